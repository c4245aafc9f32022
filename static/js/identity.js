// Mary's identity page: the registration state and pager messages, live.
import { setIceServers } from "./ice.js";
import { PortalSocket } from "./socket.js";

const list = document.getElementById("messages");
const form = document.getElementById("message-form");
const error = document.getElementById("message-error");
const state = document.getElementById("registration-state");
const STATES = { unregistered: "Unregistered", registering: "Registering", registered: "Registered",
  deregistering: "Deregistering", failed: "Failed", unreachable: "The core is unreachable" };
// identity_blocks.actions.UNREACHABLE: the IMS side cannot reach the core and keeps trying.
const UNREACHABLE = "the core is unreachable";
const STATUS = { pending: "sending…", sent: "sent", delivered: "received", failed: "not delivered" };

function render(message) {
  let item = list.querySelector(`[data-id="${message.id}"]`);
  if (!item) {
    item = document.createElement("li");
    item.dataset.id = message.id;
    for (const part of ["who", "body", "status"]) item.append(Object.assign(document.createElement("span"), { className: part }));
    list.append(item);
  }
  item.className = `message ${message.direction}`;
  item.querySelector(".who").textContent = message.direction === "in" ? `from ${message.remote}` : `to ${message.remote}`;
  item.querySelector(".body").textContent = message.body;
  item.querySelector(".status").textContent = message.error ? `${STATUS[message.status]} (${message.error})` : STATUS[message.status];
  item.scrollIntoView({ block: "nearest" });
}

const socket = new PortalSocket()
  .on("identity.changed", (event) => {
    const shown = event.state === "registering" && event.error === UNREACHABLE ? "unreachable" : event.state;
    state.textContent = STATES[shown] ?? shown;
    state.className = `state state-${shown}`;
  })
  .on("ims.message", (event) => render(event.message))
  .on("ice.servers", ({ servers, expires }) => setIceServers(servers, expires))
  .on("error", (event) => { error.textContent = event.reason; })
  .on("socket.open", () => { document.body.dataset.live = "yes"; })
  .on("socket.closed", () => { document.body.dataset.live = "no"; });

form.addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  error.textContent = "";
  socket.send({ type: "message.send", to: form.elements.to.value, body: form.elements.body.value });
  form.elements.body.value = "";
});
