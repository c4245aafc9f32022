// The ICE servers the portal issued to this page's socket (`ice.servers`): STUN, and TURN with a
// time-limited credential. Nothing is written into the page; until the event comes, or when the
// portal has none configured, the list is empty and calls use host candidates only.
export let iceServers = [];
export let expires = null; // unix seconds at which the TURN credential stops opening new relays
// "relay" where the portal wants only TURN relay candidates (its ICE_TRANSPORT_POLICY), else "all".
export let iceTransportPolicy = "all";
let announced;
export const received = new Promise((resolve) => { announced = resolve; });
let awaited = []; // resolvers of refreshed()

// From a page's socket handler: `.on("ice.servers", ({ servers, expires, policy }) => setIceServers(servers, expires, policy))`.
export function setIceServers(list, until = null, policy = "all") {
  iceServers = Array.isArray(list) ? list : [];
  expires = until;
  iceTransportPolicy = policy === "relay" ? "relay" : "all";
  announced(iceServers);
  for (const resolve of awaited.splice(0)) resolve(iceServers);
}

// The next `ice.servers` to come (the answer to an `ice.refresh`).
export function refreshed() {
  return new Promise((resolve) => awaited.push(resolve));
}

// Whether the TURN credential will still open a relay `marginSeconds` from now; if not, the call
// module sends `{ type: "ice.refresh" }` on the page's socket before gathering again.
export function fresh(marginSeconds = 60) {
  return expires === null || expires - marginSeconds > Date.now() / 1000;
}
