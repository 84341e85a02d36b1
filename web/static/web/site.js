// Messages can be dismissed; without JavaScript they simply stay until the next page.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".messages .dismiss"), function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var item = button.closest("li");
        var list = item.parentNode;
        item.remove();
        if (!list.children.length) list.remove();
      });
    });
  });
})();
