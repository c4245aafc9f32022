/* HELP button in the queue's colour: <script src=".../help-button.js" data-portal data-queue [data-label]
   [data-description] [data-panel-title] [data-open=panel]> (its words in the embedding page's language).
   A window, or a panel (iframe) the portal allows only for HELP_EMBED_ORIGINS. */
(function () {
  var me = document.currentScript, d = me.dataset, panel;
  var portal = (d.portal || new URL(me.src).origin).replace(/\/$/, ""), q = encodeURIComponent(d.queue || "");
  var url = portal + "/help/?queue=" + q + "&origin=" + encodeURIComponent(location.origin) +
    "&page=" + encodeURIComponent(location.pathname); // for the desk: where she asked from
  function make(tag, props, css) {
    var el = Object.assign(document.createElement(tag), props);
    el.style.cssText = "position:fixed;right:24px;z-index:2147483647;border:0;cursor:pointer;" + css;
    return el;
  }
  var button = make("button", { type: "button", id: "portal-help-button", textContent: d.label || "HELP" },
    "bottom:24px;width:104px;height:104px;border-radius:50%;background:#d7191c;color:#fff;" +
    "font:800 24px/1 system-ui,sans-serif;letter-spacing:.08em;box-shadow:0 8px 20px #0005");
  var description = d.description || "Get help from an advisor";
  button.setAttribute("aria-label", description);
  button.addEventListener("click", function () {
    if (d.open !== "panel") return window.open(url, "portal-help", "width=520,height=760");
    if (!panel) {
      panel = make("iframe", { id: "portal-help-panel", src: url, title: d.panelTitle || "Help from an advisor",
        allow: "microphone; camera" }, "bottom:140px;width:min(420px,calc(100vw - 48px));" +
        "height:min(640px,calc(100vh - 164px));background:#fff;border-radius:12px;box-shadow:0 12px 32px #0004");
      document.body.appendChild(panel);
    } else panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", !panel.hidden);
  });
  (document.body || document.documentElement).appendChild(button);
  fetch(portal + "/help/brand/" + q + ".json").then(function (r) { return r.json(); })
    .then(function (b) { Object.assign(button.style, { background: b.colour, color: b.text }); }, Object);
})();
