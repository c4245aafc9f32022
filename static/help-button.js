/* The HELP button for a third-party page: <script src=".../static/help-button.js"
   data-portal="https://portal.example" data-queue="tax-help" [data-label="HELP"]></script> */
(function () {
  var me = document.currentScript;
  var portal = (me.dataset.portal || new URL(me.src).origin).replace(/\/$/, "");
  var button = document.createElement("button");
  button.type = "button";
  button.id = "portal-help-button";
  button.textContent = me.dataset.label || "HELP";
  button.setAttribute("aria-label", "Get help from an advisor");
  button.style.cssText = "position:fixed;right:24px;bottom:24px;width:104px;height:104px;border:0;" +
    "border-radius:50%;background:#d7191c;color:#fff;font:800 24px/1 system-ui,sans-serif;letter-spacing:.08em;" +
    "box-shadow:0 8px 20px rgba(215,25,28,.35);cursor:pointer;z-index:2147483647";
  button.addEventListener("click", function () {
    var url = portal + "/help/?queue=" + encodeURIComponent(me.dataset.queue || "") +
      "&origin=" + encodeURIComponent(location.origin);
    window.open(url, "portal-help", "width=520,height=760");
  });
  (document.body || document.documentElement).appendChild(button);
})();
