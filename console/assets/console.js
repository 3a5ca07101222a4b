// Refreshes the live part of a campaign's page: every data-refresh element is replaced by a
// fresh copy of itself every few seconds, while the campaign has not ended. Without JavaScript
// the page is simply static.
(function () {
  "use strict";
  var interval = 5000;
  function refresh() {
    var el = document.querySelector("[data-refresh]");
    if (!el) { return; }
    fetch(el.getAttribute("data-refresh"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (res) {
        // Logged out (a redirect to the login page) or refused: stop refreshing.
        if (res.redirected || res.status === 401 || res.status === 403 || res.status === 404) { return null; }
        if (!res.ok) { schedule(); return null; }
        return res.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var next = document.createRange().createContextualFragment(html).firstElementChild;
        if (next && document.contains(el)) { el.replaceWith(next); }
        schedule();
      })
      .catch(function () { schedule(); /* the server is away for now: try again later */ });
  }
  function schedule() {
    if (document.querySelector("[data-refresh]")) { setTimeout(refresh, interval); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var ms = Number(document.body.getAttribute("data-refresh-ms"));
    if (ms > 0) { interval = ms; }
    schedule();
  });
})();
