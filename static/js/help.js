// Jane's side of a help request: place in line, then the chat with her advisor.
import { ChatView, SYNC_MS, atMostEvery, composer, resend, resume } from "./chat.js";
import { setIceServers } from "./ice.js";
import { CallPanel } from "./call_panel.js";
import { PhoneDock } from "./phone_dock.js";
import { SecurePanel } from "./secure_chat.js";
import { PortalSocket } from "./socket.js";
import { gettext, interpolate, ngettext } from "./i18n.js";

const root = document.getElementById("conversation");
const requestId = Number(root.dataset.request);
const status = document.getElementById("status");
const form = document.getElementById("chat-form");
const typing = document.getElementById("typing");
const chat = new ChatView(document.getElementById("messages"), {
  mine: (m) => !m.from_advisor,
  retry: (clientId) => socket.send({ type: "chat.retry", client_id: clientId }),
});
let typingTimer;
let talkingWith = null; // the advisor who has the conversation: another one means it was handed on
let calls = null; // the conversation's call panel, once an advisor has taken it
let secure = null; // and its secure chat line, where the service includes one

// Once the conversation is open: the call panel; a voice or video request calls at once.
function callPanel(request) {
  if (calls || request.status !== "active") return;
  const send = (event) => socket.send(event);
  calls = new CallPanel(root, { list: chat.list, send, allows: request.calls });
  secure = new SecurePanel(root, { list: chat.list, send, allowed: request.secure_chat, other: "the advisor" });
  if (request.mode === "voice" || request.mode === "video") calls.start(request.mode === "video");
  if (request.secure) secure.ask(); // she chose the secure line when she asked for help
}

function stopTyping() {
  clearTimeout(typingTimer);
  typing.hidden = true;
}

function minutes(seconds) {
  if (seconds < 60) return gettext("less than a minute");
  const count = Math.round(seconds / 60);
  return interpolate(ngettext("about %(count)s minute", "about %(count)s minutes", count), { count });
}

const socket = new PortalSocket(`/ws/help/${requestId}/`)
  .on("socket.open", () => {
    document.body.dataset.live = "yes";
    resume(chat, (event) => socket.send(event));
    resend(chat, (event) => socket.send(event));
  })
  .on("socket.closed", () => { document.body.dataset.live = "no"; })
  .on("help.request", ({ request }) => {
    const handedOn = talkingWith !== null && request.status === "active" && request.advisor !== talkingWith;
    if (request.status === "active") talkingWith = request.advisor;
    const advisor = request.advisor_name || gettext("an advisor");
    const text = { waiting: gettext("Waiting for an advisor…"), ringing: gettext("An advisor is being called…"),
      active: interpolate(handedOn ? gettext("You are now talking with %(advisor)s.") : gettext("You are talking with %(advisor)s."), { advisor }),
      closed: gettext("The conversation has ended."),
      abandoned: gettext("You left the line.") }[request.status];
    status.textContent = text;
    const opening = form.hidden && request.status === "active";
    root.dataset.status = request.status;
    form.hidden = request.status !== "active";
    // Once it ended: her rating and the transcript by e-mail.
    document.getElementById("after").hidden = request.status !== "closed";
    document.getElementById("leave").hidden = request.status === "closed" || request.status === "abandoned";
    if (opening) form.elements.body.focus();
    callPanel(request);
  })
  .on("ice.servers", ({ servers, expires, policy }) => setIceServers(servers, expires, policy))
  .on("call.placed", (event) => calls?.placed(event))
  .on("call.refused", (event) => calls?.refused(event))
  .on("ims.call", (event) => {
    // This conversation's call; any other of her identity in the dock (every window of hers rings).
    if (event.request !== requestId) return dock.call(event);
    return secure?.handles(event) || calls?.handle(event);
  })
  .on("ims.message", (event) => dock.message(event))
  .on("secure.placed", (event) => secure?.placed(event))
  .on("secure.refused", (event) => secure?.refused(event))
  .on("secure.segment", (event) => secure?.segment(event))
  .on("help.position", ({ position, expected_wait }) => {
    if (root.dataset.status === "active") return;
    // No estimate while nobody takes new requests: a number would not be true.
    const wait = expected_wait === null
      ? gettext("No advisor is taking new requests right now; you keep your place.")
      : interpolate(gettext("Expected wait: %(time)s."), { time: minutes(expected_wait) });
    status.textContent = `${interpolate(gettext("You are number %(position)s in line."), { position })} ${wait}`;
  })
  .on("chat.message", ({ message }) => {
    chat.show(message);
    if (message.from_advisor) stopTyping();  // what they were typing has arrived
    if (message.from_advisor && message.seq) socket.send({ type: "chat.read", up_to: message.seq });
  })
  .on("chat.read", ({ up_to, by_advisor }) => { if (by_advisor) chat.read(up_to); })
  .on("chat.typing", ({ from_advisor }) => {
    if (!from_advisor) return;
    typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  })
  .on("error", ({ reason }) => { document.getElementById("chat-error").textContent = reason; });

const dock = new PhoneDock((event) => socket.send(event));
setInterval(() => {
  if (document.body.dataset.live === "yes" && root.dataset.status === "active") resume(chat, (event) => socket.send(event));
}, SYNC_MS);
composer(form, chat, (id, body) => socket.send({ type: "chat.send", client_id: id, body }));
form.elements.body.addEventListener("input", atMostEvery(2000, () => socket.send({ type: "chat.typing" })));
document.getElementById("leave").addEventListener("click", () => socket.send({ type: "help.leave" }));
