// The holder's identity on a page other than the communications page (the desk, the help page):
// a call to it rings here too, with Answer and Decline, and stops when another window answers; a
// message to it shows here, with a way to the communications page (/identity/), where Mary keeps
// her conversations. Hidden until the first call or message.
import { CallPanel } from "./call_panel.js";
import { gettext, interpolate } from "./i18n.js";

const COMMUNICATIONS = "/identity/";

function element(tag, props = {}, ...children) {
  const made = Object.assign(document.createElement(tag), props);
  made.append(...children);
  return made;
}

// A message that arrives in a tab out of sight: the browser's notification too, where allowed.
function notify(message) {
  if (!document.hidden || !("Notification" in globalThis) || Notification.permission !== "granted") return;
  const note = new Notification(interpolate(gettext("Message from %(remote)s"), { remote: message.remote }), { body: message.body, tag: `message-${message.id}` });
  note.onclick = () => { globalThis.focus(); note.close(); };
}

export class PhoneDock {
  // send(event): the page's socket.
  constructor(send) {
    this.list = element("ol", { className: "messages phone-log", ariaLabel: gettext("Your phone's log") });
    const link = element("a", { href: COMMUNICATIONS, textContent: gettext("Open the communications page") });
    this.root = element("section", { className: "panel phone-dock", id: "phone-dock", hidden: true, ariaLabel: gettext("Your phone") },
      element("h2", { textContent: gettext("Calls and messages for you") }), this.list, element("p", {}, link));
    // After the page's own content: a conversation's call stays the page's first.
    document.querySelector("main").append(this.root);
    this.send = send;
    this.calls = null; // made with the first call: until then the page has only its own call panels
  }

  show() {
    if (!this.root.hidden) return;
    this.root.hidden = false;
    this.root.scrollIntoView({ block: "nearest" });
  }

  // An `ims.call` event of no conversation on this page.
  call(event) {
    this.show();
    this.calls ||= new CallPanel(this.root, { list: this.list, send: this.send, allows: { audio: true, video: true }, dials: false });
    return this.calls.handle(event);
  }

  // An `ims.message` event: a message to the holder's identity.
  message({ message }) {
    if (this.list.querySelector(`[data-id="${message.id}"]`)) return;
    this.show();
    const reply = element("a", { href: COMMUNICATIONS, textContent: gettext("Reply on the communications page") });
    const item = element("li", { className: "message in phone-message", role: "status" },
      element("span", { className: "who", textContent: interpolate(gettext("Message from %(remote)s"), { remote: message.remote }) }),
      element("span", { className: "status" }, reply),
      element("span", { className: "body", textContent: message.body }));
    item.dataset.id = message.id;
    this.list.append(item);
    notify(message);
  }
}
