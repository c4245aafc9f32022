// Tools of a conversation's pane on the desk: canned replies at the composer, the transfer
// chooser, and where the customer came from.
import { gettext, interpolate } from "./i18n.js";

const canned = JSON.parse(document.getElementById("canned-replies")?.textContent || "{}");

// How long between two moments (ISO strings; `until` defaults to now), as the desk says it.
export function waited(since, until) {
  const end = until ? Date.parse(until) : Date.now();
  const minutes = Math.floor((end - Date.parse(since)) / 60000);
  return minutes < 1 ? gettext("less than a minute") : interpolate(gettext("%(minutes)s min"), { minutes });
}

// The page she asked from, as text (host and path): never a link, whatever it says.
export function cameFrom(request) {
  return request.came_from ? interpolate(gettext("from %(page)s"), { page: request.came_from }) : gettext("from an unknown page");
}

// Choosing a canned reply puts its text in the composer, at the cursor, to edit; it never sends.
export function cannedReplies(root, queueId) {
  const replies = canned[queueId] || [];
  const label = root.querySelector("label.canned");
  const select = label.querySelector("select");
  const body = root.querySelector(".chat-form").elements.body;
  label.hidden = replies.length === 0;
  select.replaceChildren(new Option(gettext("Choose a reply…"), ""),
    ...replies.map((reply, index) => new Option(reply.title, String(index))));
  select.addEventListener("change", () => {
    const reply = select.value === "" ? null : replies[Number(select.value)];
    select.value = "";
    if (!reply) return;
    const at = body.selectionStart ?? body.value.length;
    body.setRangeText(reply.text, at, body.selectionEnd ?? at, "end");
    body.focus();
  });
}

// Transfer: the button asks the server whom the conversation may go to; the chooser lists
// advisors with room and queues of the same agreement; "Hand over" sends it.
export class TransferTools {
  constructor(root, requestId, send) {
    this.root = root.querySelector(".transfer-tools");
    this.form = this.root.querySelector(".transfer-form");
    this.none = this.root.querySelector(".transfer-none");
    this.root.querySelector(".transfer").addEventListener("click", () => send({ type: "help.transfer_options", request: requestId }));
    this.root.querySelector(".transfer-cancel").addEventListener("click", () => { this.form.hidden = true; });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const [kind, id] = this.form.elements.to.value.split(":");
      if (!id) return;
      send({ type: "help.transfer", request: requestId, [kind]: Number(id) });
      this.form.hidden = true;
    });
  }

  options({ advisors, queues }) {
    const group = (label, kind, items) => {
      const element = document.createElement("optgroup");
      element.label = label;
      element.append(...items.map((item) => new Option(item.name, `${kind}:${item.id}`)));
      return element;
    };
    const groups = [];
    if (advisors.length) groups.push(group(gettext("Advisors"), "advisor", advisors));
    if (queues.length) groups.push(group(gettext("Queues"), "queue", queues));
    this.form.elements.to.replaceChildren(...groups);
    this.none.hidden = groups.length > 0;
    this.form.hidden = groups.length === 0;
    if (groups.length) this.form.elements.to.focus();
  }

  close() { this.root.hidden = true; }
}
