import { gettext, interpolate } from "./i18n.js";

// One conversation's messages: ordered by the server's sequence, each shown once; the sender's
// own messages show at once as "sending…" and take their place when the server numbers them.
export class ChatView {
  constructor(list, { mine, retry = () => {} }) {
    this.list = list;
    this.mine = mine; // (message) => true for messages this side sent
    this.retry = retry; // (clientId) => send an undelivered message again
    // The end of the unbroken run from 1, to resume after: numbered messages can arrive out of
    // order, and resuming after a later one would skip a gap for good.
    this.lastSeq = 0;
    this.seqs = new Set();
    this.pending = new Map(); // client_id -> body, until numbered
    liveRegion(list); // there before anything is said in it, as screen readers need
  }

  item(key) {
    let item = this.list.querySelector(`[data-key="${key}"]`);
    if (!item) {
      item = document.createElement("li");
      item.dataset.key = key;
      item.append(Object.assign(document.createElement("span"), { className: "who" }), document.createElement("time"));
      for (const part of ["body", "status"]) item.append(Object.assign(document.createElement("span"), { className: part }));
      this.list.append(item);
    }
    return item;
  }

  sending(clientId, body) {
    this.pending.set(clientId, body);
    const item = this.item(`c-${clientId}`);
    item.className = "message out pending";
    item.querySelector(".who").textContent = gettext("You");
    item.querySelector(".body").textContent = body;
    item.querySelector(".status").textContent = gettext("sending…");
  }

  // An own message the IMS could not deliver: said plainly, kept (also after a reload), with Retry.
  failed(message) {
    this.pending.delete(message.client_id);
    const item = this.item(`c-${message.client_id}`);
    item.className = "message out failed";
    item.querySelector(".who").textContent = gettext("You");
    item.querySelector(".body").textContent = message.body;
    const status = item.querySelector(".status");
    status.textContent = `${gettext("Not delivered.")} `;
    status.title = message.failed; // the network's own words, for whoever asks
    const again = Object.assign(document.createElement("button"), { type: "button", className: "link", textContent: gettext("Retry") });
    again.addEventListener("click", () => { again.disabled = true; this.retry(message.client_id); });
    status.append(again);
    item.scrollIntoView({ block: "nearest" });
  }

  show(message) {
    const own = this.mine(message);
    if (message.seq === null) {
      if (own && message.failed) this.failed(message);
      else if (own && this.list.querySelector(`[data-key="c-${message.client_id}"].failed`)) this.sending(message.client_id, message.body);
      return;
    }
    if (this.seqs.has(message.seq)) return;
    this.seqs.add(message.seq);
    const stale = own ? this.list.querySelector(`[data-key="c-${message.client_id}"]`) : null;
    if (stale) stale.remove();
    this.pending.delete(message.client_id);
    const item = this.item(`s-${message.seq}`);
    item.dataset.seq = message.seq;
    item.className = `message ${own ? "out" : "in"}`;
    item.querySelector(".who").textContent = own ? gettext("You") : (message.from_advisor ? gettext("Advisor") : gettext("Customer"));
    item.querySelector(".body").textContent = message.body;
    item.querySelector(".status").textContent = own ? (message.read ? gettext("read") : gettext("delivered")) : "";
    stamp(item.querySelector("time"), message.at);
    if (!own && !message.read) announce(this.list, item.querySelector(".who").textContent, message.body);
    const after = [...this.list.querySelectorAll("[data-seq]")].find((other) => Number(other.dataset.seq) > message.seq);
    if (after) this.list.insertBefore(item, after);
    while (this.seqs.has(this.lastSeq + 1)) this.lastSeq += 1;
    item.scrollIntoView({ block: "nearest" });
  }

  read(upTo) {
    for (const item of this.list.querySelectorAll(".message.out[data-seq]")) {
      if (Number(item.dataset.seq) <= upTo) item.querySelector(".status").textContent = gettext("read");
    }
  }
}

// Screen readers hear each new message of the other side once, and nothing else: the list itself
// is not live, since its history, "sending…" and "read" would be read out too.
function liveRegion(list) {
  if (list.nextElementSibling?.classList.contains("announcer")) return list.nextElementSibling;
  const live = Object.assign(document.createElement("div"), { className: "sr-only announcer" });
  live.setAttribute("aria-live", "polite");
  live.setAttribute("aria-relevant", "additions");
  list.after(live);
  return live;
}

export function announce(list, who, body) {
  const live = liveRegion(list);
  live.append(Object.assign(document.createElement("p"), { textContent: interpolate(gettext("%(who)s: %(body)s"), { who, body }) }));
  while (live.childElementCount > 5) live.firstElementChild.remove();
}

// When the server took the message, in the viewer's own locale and time zone.
function stamp(time, at) {
  const when = new Date(at);
  time.dateTime = when.toISOString();
  time.textContent = when.toLocaleTimeString(undefined, { hour: "numeric", minute: "2-digit" });
  time.title = when.toLocaleString();
}

// How often an open conversation asks for what it may have missed: events do not survive a
// restart of the channel layer, so a socket that stayed open would otherwise wait for them forever.
export const SYNC_MS = 10000;

// Ask for everything after the unbroken run, and about the messages still sending.
export function resume(chat, send) {
  send({ type: "chat.resume", after: chat.lastSeq, pending: [...chat.pending.keys()] });
}

// Send again what was not numbered yet: the server knows a resend by its client id.
export function resend(chat, send) {
  for (const [id, body] of chat.pending) send({ type: "chat.send", client_id: id, body });
}

export function clientId() {
  return crypto.randomUUID().replaceAll("-", "");
}

// A message form: what is typed shows at once as sending, and goes out under a new client id.
export function composer(form, chat, send) {
  // Enter sends, Shift+Enter starts a new line (not while an input method is composing a word).
  form.elements.body.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = form.elements.body.value.trim();
    if (!body) return;
    const id = clientId();
    chat.sending(id, body);
    send(id, body);
    form.elements.body.value = "";
  });
}

// At most one call per `ms`: "typing…" needs telling once in a while, not on every key.
export function atMostEvery(ms, fn) {
  let last = 0;
  return (...args) => {
    const now = Date.now();
    if (now - last < ms) return;
    last = now;
    fn(...args);
  };
}
