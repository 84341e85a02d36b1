// Refreshes images that are still queued or processing until every one is final.
// Without JavaScript the gallery still works: statuses update on reload.
(function () {
  "use strict";
  var gallery = document.querySelector("[data-updates-url]");
  if (!gallery) return;
  var url = gallery.getAttribute("data-updates-url");
  var delay = 1000;

  function inProgress() {
    return Array.prototype.filter.call(gallery.querySelectorAll("li.image"), function (item) {
      var status = item.getAttribute("data-status");
      return status === "pending" || status === "processing";
    });
  }

  function poll() {
    var waiting = inProgress();
    if (waiting.length === 0) return;  // everything is final: stop asking
    var ids = waiting.map(function (item) { return item.getAttribute("data-id"); }).join(",");
    fetch(url + "?ids=" + encodeURIComponent(ids), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { images: {} }; })
      .then(function (data) {
        Object.keys(data.images).forEach(function (id) {
          var item = document.getElementById("image-" + id);
          if (item) item.outerHTML = data.images[id];
        });
      })
      .catch(function () { /* offline for a moment: try again later */ })
      .then(function () {
        delay = Math.min(delay * 1.3, 5000);
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
})();
