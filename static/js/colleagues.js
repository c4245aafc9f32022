// Colleagues found by name as Mary types (WAI-ARIA combobox with a list box): the directory is
// searched on the server (/api/me/colleagues), a page at a time, never shipped whole in the page.
import { gettext } from "./i18n.js";

const PAUSE_MS = 200; // typing faster than this asks once, for what was typed last

export class ColleagueSearch {
  // input: a text field with role=combobox whose aria-controls names the list box and whose
  // data-colleagues is the search's URL; hint: where "more match" is said.
  constructor(input, hint) {
    this.input = input;
    this.list = document.getElementById(input.getAttribute("aria-controls"));
    this.hint = hint;
    this.found = [];
    this.active = -1;
    this.chosen = null; // { name, impu } she picked: the identity her name stands for
    this.timer = null;
    this.asking = null;
    input.addEventListener("input", () => this.later());
    input.addEventListener("keydown", (pressed) => this.key(pressed));
    input.addEventListener("blur", () => this.close());
    // A press on a suggestion must not take the focus (and so the list) from the field first.
    this.list.addEventListener("pointerdown", (pressed) => pressed.preventDefault());
    this.list.addEventListener("click", (clicked) => {
      const option = clicked.target.closest("[role=option]");
      if (option) this.pick(Number(option.dataset.index));
    });
  }

  // The identity of the colleague `text` names: the one she picked, else a suggestion called so.
  impuOf(text) {
    const name = text.trim().toLowerCase();
    if (this.chosen && this.chosen.name.toLowerCase() === name) return this.chosen.impu;
    const named = this.found.filter((colleague) => colleague.name.toLowerCase() === name);
    return named.length === 1 ? named[0].impu : undefined;
  }

  later() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.ask(), PAUSE_MS);
  }

  async ask() {
    this.asking?.abort(); // an older question's late answer must not replace a newer one's
    const asking = (this.asking = new AbortController());
    const url = `${this.input.dataset.colleagues}?q=${encodeURIComponent(this.input.value.trim())}`;
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" }, signal: asking.signal });
      if (!answer.ok) return this.close();
      const { results, more } = await answer.json();
      this.show(results, more);
    } catch (failed) {
      if (failed.name !== "AbortError") this.close(); // the list stays as it was while offline
    }
  }

  show(results, more) {
    this.found = results;
    this.active = -1;
    this.list.replaceChildren(...results.map((colleague, index) => this.option(colleague, index)));
    this.hint.textContent = more ? gettext("More colleagues match: type more of the name.") : "";
    this.open(results.length > 0 && document.activeElement === this.input);
  }

  option(colleague, index) {
    const item = document.createElement("li");
    item.id = `${this.list.id}-${index}`;
    item.setAttribute("role", "option");
    item.setAttribute("aria-selected", "false");
    item.dataset.index = String(index);
    item.append(colleague.name, Object.assign(document.createElement("span"), { className: "colleague-impu", textContent: ` ${colleague.impu}` }));
    return item;
  }

  open(shown) {
    this.list.hidden = !shown;
    this.input.setAttribute("aria-expanded", String(shown));
    if (!shown) this.input.removeAttribute("aria-activedescendant");
  }

  close() {
    clearTimeout(this.timer);
    this.hint.textContent = "";
    this.open(false);
  }

  highlight(index) {
    this.active = index;
    for (const item of this.list.children) item.setAttribute("aria-selected", String(item.dataset.index === String(index)));
    const item = this.list.children[index];
    this.input.setAttribute("aria-activedescendant", item.id);
    item.scrollIntoView({ block: "nearest" });
  }

  pick(index) {
    const colleague = this.found[index];
    this.chosen = colleague;
    this.input.value = colleague.name;
    this.close();
    this.input.focus();
  }

  // Keys of the combobox pattern; Enter on a highlighted suggestion picks it (and only that).
  key(pressed) {
    const open = !this.list.hidden && this.found.length > 0;
    if (pressed.key === "ArrowDown" || pressed.key === "ArrowUp") {
      pressed.preventDefault();
      if (!open) return this.ask();
      const count = this.found.length;
      const step = pressed.key === "ArrowDown" ? 1 : -1;
      this.highlight(this.active < 0 && step < 0 ? count - 1 : (this.active + step + count) % count);
    } else if (pressed.key === "Enter" && open && this.active >= 0) {
      pressed.preventDefault();
      this.pick(this.active);
    } else if (pressed.key === "Escape" && open) {
      pressed.preventDefault();
      this.close();
    }
  }
}
