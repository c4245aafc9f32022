// Mary's identity page: the registration state, pager messages and calls, live.
import { CallPanel } from "./call_panel.js";
import { ColleagueSearch } from "./colleagues.js";
import { gettext, interpolate, ngettext } from "./i18n.js";
import { setIceServers } from "./ice.js";
import { PortalSocket } from "./socket.js";

const list = document.getElementById("messages");
const form = document.getElementById("message-form");
const error = document.getElementById("message-error");
const state = document.getElementById("registration-state");
const STATES = { unregistered: gettext("Unregistered"), registering: gettext("Registering"), registered: gettext("Registered"),
  deregistering: gettext("Deregistering"), failed: gettext("Failed"), unreachable: gettext("The core is unreachable") };
// identity_blocks.actions.UNREACHABLE: the IMS side cannot reach the core and keeps trying.
const UNREACHABLE = "the core is unreachable";
let starting = null; // the socket's ref of the last call.start, whose refusal ends that call
const STATUS = { pending: gettext("sending…"), sent: gettext("sent"), delivered: gettext("received"), failed: gettext("not delivered") };

// The history link's badge counts on as messages arrive (the server counts from her read markers
// when the page loads; reading the conversation there clears them).
function countUnread() {
  const link = document.querySelector('[data-unread="messages"]');
  if (!link) return;
  const badge = link.querySelector(".badge") ?? link.appendChild(Object.assign(document.createElement("span"), { className: "badge" }));
  const count = Number(badge.textContent || 0) + 1;
  badge.textContent = String(count);
  badge.setAttribute("aria-label", interpolate(ngettext("%(n)s unread", "%(n)s unread", count), { n: count }));
}

function render(message) {
  let item = list.querySelector(`[data-id="${message.id}"]`);
  if (!item) {
    if (message.direction === "in") countUnread();
    item = document.createElement("li");
    item.dataset.id = message.id;
    for (const part of ["who", "body", "status"]) item.append(Object.assign(document.createElement("span"), { className: part }));
    list.append(item);
  }
  item.className = `message ${message.direction}`;
  item.querySelector(".who").textContent = interpolate(message.direction === "in" ? gettext("from %(remote)s") : gettext("to %(remote)s"), { remote: message.remote });
  item.querySelector(".body").textContent = message.body;
  item.querySelector(".status").textContent = message.error
    ? interpolate(gettext("%(status)s (%(error)s)"), { status: STATUS[message.status], error: message.error }) : STATUS[message.status];
  item.scrollIntoView({ block: "nearest" });
}

const socket = new PortalSocket()
  .on("identity.changed", (event) => {
    const shown = event.state === "registering" && event.error === UNREACHABLE ? "unreachable" : event.state;
    state.textContent = STATES[shown] ?? shown;
    state.className = `state state-${shown}`;
  })
  .on("ims.message", (event) => render(event.message))
  .on("ice.servers", ({ servers, expires, policy }) => setIceServers(servers, expires, policy))
  .on("error", (event) => {
    if (event.ref === starting) panel.refused(event);  // the call asked for ends, saying why
    else error.textContent = event.reason;
  })
  .on("socket.open", () => { document.body.dataset.live = "yes"; })
  .on("socket.closed", () => { document.body.dataset.live = "no"; });

// Colleagues by name, found as she types, each standing for the identity a message or call to
// them goes to (a call directly, browser to browser).
const messageTo = new ColleagueSearch(form.elements.to, document.getElementById("message-to-more"));

form.addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  error.textContent = "";
  const to = form.elements.to.value;
  socket.send({ type: "message.send", to: messageTo.impuOf(to) ?? to, body: form.elements.body.value });
  form.elements.body.value = "";
});

// Calls: a SIP or tel URI, a phone number or name@domain typed or dialled, through the IMS.
const impu = document.getElementById("impu").textContent.trim();
const callTo = document.getElementById("call-to");
const callColleague = new ColleagueSearch(callTo, document.getElementById("call-to-more"));

// Whom to call, from what Mary typed: a colleague's name as their identity, a SIP or tel URI as
// it is, an international number as a tel URI, a local one as a phone number in her operator's
// domain, name@domain as a SIP URI.
export function addressOf(text, ownDomain) {
  const value = text.trim();
  if (!value) throw new Error(gettext("Enter whom to call: a colleague, a SIP address or a phone number."));
  const colleague = callColleague.impuOf(value);
  if (colleague) return colleague;
  if (/^(sips?|tel):/i.test(value)) return value;
  const digits = value.replace(/[\s\-().]/g, "");
  if (/^\+\d{1,15}$/.test(digits)) return `tel:${digits}`;
  if (/^[\d*#]{1,32}$/.test(digits)) return `sip:${digits.replaceAll("#", "%23")}@${ownDomain};user=phone`;
  if (/^[^@\s:]+@[^@\s]+$/.test(value)) return `sip:${value}`;
  throw new Error(gettext("That is neither a SIP address (name@domain) nor a phone number."));
}

const panel = new CallPanel(document.getElementById("calls-panel"), {
  list: document.getElementById("call-log"),
  send: (event) => {
    const ref = socket.send(event);
    if (event.type === "call.start") starting = ref;
  },
  allows: { audio: true, video: true },
  stats: true,
  address: () => addressOf(callTo.value, impu.split("@").pop()),
});
socket
  .on("ims.call", (event) => panel.handle(event))
  .on("call.placed", (event) => panel.placed(event));

for (const key of document.querySelectorAll(".dial-pad button")) {
  key.addEventListener("click", () => { callTo.value += key.dataset.key; callTo.focus(); });
}
callTo.addEventListener("keydown", (pressed) => {
  // Enter on a highlighted colleague picks them (ColleagueSearch, which hears it first), nothing more.
  if (pressed.key === "Enter" && !pressed.defaultPrevented) { pressed.preventDefault(); panel.start(false); }
});
