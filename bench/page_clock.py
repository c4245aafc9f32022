"""Clocks read inside a page of the portal: its own Date.now(), on the machine that runs it."""

# The moment audio of the page's current call first arrives (getStats, every 10 ms).
WATCH_AUDIO = """() => {
  window.audioAt = null;
  const poll = setInterval(async () => {
    const call = [...globalThis.portalCalls.values()].at(-1);
    if (!call || !call.pc) return;
    for (const report of (await call.pc.getStats()).values()) {
      if (report.type === "inbound-rtp" && report.kind === "audio" && report.bytesReceived > 0) {
        window.audioAt = Date.now();
        clearInterval(poll);
      }
    }
  }, 10);
}"""
# Clicks the call panel's Answer; returns when.
ANSWER = """() => {
  const at = Date.now();
  [...document.querySelectorAll(".call-bar button")].find((b) => b.textContent === "Answer" && !b.hidden).click();
  return at;
}"""
