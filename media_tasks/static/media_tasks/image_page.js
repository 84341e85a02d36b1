// The image page follows its image while it is queued or processing, as the gallery does: it
// asks the gallery's updates endpoint (one small query) until the status changes, then fetches
// this page again and swaps in its picture and facts. Without JavaScript a reload does the same.
(function () {
  "use strict";
  var region = document.getElementById("image-page");
  if (!region) return;
  var announcer = document.getElementById("announcer");
  var updatesUrl = region.getAttribute("data-updates-url");
  var id = region.getAttribute("data-id");
  var delay = 1000;
  var stopped = false;

  function inProgress() {
    var status = region.getAttribute("data-status");
    return status === "pending" || status === "processing";
  }

  function follow() {
    if (!stopped && inProgress()) window.setTimeout(poll, delay);
  }

  function statusOf(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    var card = template.content.firstElementChild;
    return card ? card.getAttribute("data-status") : null;
  }

  function refresh() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("the page answered " + response.status);
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("image-page");
        if (!fresh) return;
        region.replaceWith(fresh);
        region = fresh;
        var status = fresh.querySelector(".status");
        if (status && announcer) announcer.textContent = "Status: " + status.textContent.trim();
      });
  }

  function poll() {
    var url = updatesUrl + "?ids=" + encodeURIComponent(id);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { images: {} }; })
      .then(function (data) {
        var html = data.images && data.images[id];
        if (!html) {
          stopped = true;  // deleted meanwhile (perhaps in another tab): nothing left to follow
          return undefined;
        }
        if (statusOf(html) !== region.getAttribute("data-status")) return refresh();
        return undefined;
      })
      .catch(function () { /* offline for a moment: try again later */ })
      .then(function () {
        delay = Math.min(delay * 1.3, 5000);
        follow();
      });
  }

  follow();
})();
