// Keeps a petition page's count live: asks the public counter every 15 s (a file: the CSP allows no inline script).
(function () {
  "use strict";
  var article = document.querySelector("[data-petition-id]");
  if (!article || !window.fetch) { return; }
  var id = article.getAttribute("data-petition-id");
  var count = article.querySelector('[data-live="count"]');
  var progress = article.querySelector('[data-live="progress"]');
  var format = new Intl.NumberFormat("fr-FR");
  function refresh() {
    fetch("/api/petitions/" + encodeURIComponent(id) + "/counter", { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) {
        if (!c) { return; }
        if (count) { count.textContent = format.format(c.signature_count); }
        if (progress) { progress.value = Math.min(c.signature_count, c.goal); progress.max = c.goal; }
      })
      .catch(function () {});
  }
  window.setInterval(refresh, 15000);
})();
