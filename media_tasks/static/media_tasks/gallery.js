// The gallery's script: uploads several files at once (picker or drag and drop), each with its
// own progress bar, then follows every image still queued or processing until it is final.
// Without JavaScript the plain form uploads one file and statuses update on reload.
(function () {
  "use strict";
  var gallery = document.querySelector("ul.gallery");
  if (!gallery) return;
  var announcer = document.getElementById("announcer");
  var updatesUrl = gallery.getAttribute("data-updates-url");
  var delay = 1000;
  var timer = null;

  function announce(text) {
    // A screen reader reads the live region when its text changes.
    announcer.textContent = text;
  }

  function statusText(item) {
    var status = item.querySelector(".status");
    return status ? status.textContent.trim() : "";
  }

  function cardFrom(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  function inProgress() {
    return Array.prototype.filter.call(gallery.querySelectorAll("li.image"), function (item) {
      var status = item.getAttribute("data-status");
      return status === "pending" || status === "processing";
    });
  }

  function followStatuses(restart) {
    if (restart) {
      delay = 1000;
      window.clearTimeout(timer);
      timer = null;
    }
    if (timer === null) timer = window.setTimeout(poll, delay);
  }

  function poll() {
    timer = null;
    var waiting = inProgress();
    if (waiting.length === 0) return;  // everything is final: stop asking
    var ids = waiting.map(function (item) { return item.getAttribute("data-id"); }).join(",");
    fetch(updatesUrl + "?ids=" + encodeURIComponent(ids), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { images: {} }; })
      .then(function (data) {
        Object.keys(data.images).forEach(function (id) {
          var old = document.getElementById("image-" + id);
          if (!old) return;
          var card = cardFrom(data.images[id]);
          old.replaceWith(card);
          if (card.getAttribute("data-status") !== old.getAttribute("data-status")) {
            var text = card.getAttribute("data-name") + ": " + statusText(card);
            announce(text);
            showInQueue(id, card);
          }
        });
      })
      .catch(function () { /* offline for a moment: try again later */ })
      .then(function () {
        delay = Math.min(delay * 1.3, 5000);
        followStatuses(false);
      });
  }

  // --- Uploads --------------------------------------------------------------------------

  var form = document.querySelector("form.upload");
  var queue = form && form.querySelector(".queue");
  var rows = {};  // image id -> its row in the upload list

  function showInQueue(id, card) {
    var row = rows[id];
    if (!row) return;
    var state = row.querySelector(".state");
    var status = card.getAttribute("data-status");
    state.textContent = statusText(card);
    state.className = "state" + (status === "ready" ? " done" : status === "failed" ? " failed" : "");
  }

  function addRow(file) {
    var row = document.createElement("li");
    var line = document.createElement("div");
    line.className = "row";
    var name = document.createElement("span");
    name.className = "file-name";
    name.textContent = file.name;
    var state = document.createElement("span");
    state.className = "state";
    state.textContent = "Waiting";
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Uploading " + file.name);
    line.appendChild(name);
    line.appendChild(state);
    row.appendChild(line);
    row.appendChild(bar);
    queue.appendChild(row);
    queue.hidden = false;
    return row;
  }

  function failRow(row, file, message) {
    var state = row.querySelector(".state");
    state.textContent = message;
    state.className = "state failed";
    row.querySelector("progress").remove();
    announce(file.name + " was not uploaded: " + message);
  }

  function tooLargeMessage(maxBytes) {
    return "The file is larger than the " + Math.round(maxBytes / 1048576 * 10) / 10 + " MB limit.";
  }

  function check(file, accepted, maxBytes) {
    // Obvious mistakes are caught before sending; the server still decides on the bytes.
    if (accepted.indexOf(file.type) === -1) return "Only JPEG, PNG, WebP and GIF images can be uploaded.";
    if (file.size > maxBytes) return tooLargeMessage(maxBytes);
    return "";
  }

  function errorsOf(xhr) {
    try {
      var data = JSON.parse(xhr.responseText);
      if (data.errors && data.errors.length) return data.errors.join(" ");
    } catch (ignored) { /* not JSON: a proxy's page, or the rate limit's */ }
    if (xhr.status === 429) return "Too many uploads in a short time; please wait and try again.";
    if (xhr.status === 413) return "The file is too large.";
    return "The upload failed (" + (xhr.status || "no answer") + ").";
  }

  function addCard(html) {
    var card = cardFrom(html);
    gallery.insertBefore(card, gallery.firstChild);
    gallery.hidden = false;
    var empty = document.querySelector(".empty");
    if (empty) empty.remove();
    return card;
  }

  function recorded(xhr, file, row) {
    // The site's answer to an upload (through it, or the record of one sent to the bucket).
    var bar = row.querySelector("progress");
    if (xhr.status === 201) {
      var data = JSON.parse(xhr.responseText);
      bar.value = 100;
      rows[data.id] = row;
      var card = addCard(data.html);
      showInQueue(String(data.id), card);
      announce(file.name + " is uploaded: " + statusText(card));
      followStatuses(true);
    } else {
      failRow(row, file, errorsOf(xhr));
    }
  }

  function toSite(url, fields) {
    var xhr = new XMLHttpRequest();
    var body = new FormData();
    body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    Object.keys(fields).forEach(function (name) { body.append(name, fields[name]); });
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    return { xhr: xhr, body: body };
  }

  function showProgress(xhr, row) {
    var bar = row.querySelector("progress");
    var state = row.querySelector(".state");
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable) return;
      var percent = Math.round(event.loaded / event.total * 100);
      bar.value = percent;
      state.textContent = "Uploading " + percent + "%";
    });
    state.textContent = "Uploading 0%";
  }

  function unreachable(row, file, done) {
    return function () {
      failRow(row, file, "The upload did not reach the server; check the connection and try again.");
      done();
    };
  }

  function sendOne(file, row, done) {
    if (form.hasAttribute("data-direct-upload")) {
      sendToBucket(file, row, done);
      return;
    }
    var request = toSite(form.getAttribute("action"), { file: file });
    showProgress(request.xhr, row);
    request.xhr.addEventListener("load", function () {
      recorded(request.xhr, file, row);
      done();
    });
    request.xhr.addEventListener("error", unreachable(row, file, done));
    request.xhr.send(request.body);
  }

  // With a bucket the file goes straight to it on a presigned POST (the site never carries its
  // bytes), then the site is told its key and queues the checks and thumbnails.
  function sendToBucket(file, row, done) {
    var presign = toSite(form.getAttribute("data-presign-url"), { name: file.name });
    presign.xhr.addEventListener("load", function () {
      if (presign.xhr.status !== 200) {
        failRow(row, file, errorsOf(presign.xhr));
        done();
        return;
      }
      var post = JSON.parse(presign.xhr.responseText);
      var upload = new XMLHttpRequest();
      var body = new FormData();
      Object.keys(post.fields).forEach(function (name) { body.append(name, post.fields[name]); });
      body.append("file", file); // S3 takes the file from the last field only
      upload.open("POST", post.url);
      showProgress(upload, row);
      upload.addEventListener("load", function () {
        if (upload.status < 200 || upload.status >= 300) {
          var tooLarge = upload.responseText.indexOf("EntityTooLarge") !== -1;
          var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
          failRow(row, file, tooLarge ? tooLargeMessage(maxBytes) : "The storage refused the file (" + upload.status + ").");
          done();
          return;
        }
        var complete = toSite(form.getAttribute("data-complete-url"), { key: post.key });
        complete.xhr.addEventListener("load", function () {
          recorded(complete.xhr, file, row);
          done();
        });
        complete.xhr.addEventListener("error", unreachable(row, file, done));
        complete.xhr.send(complete.body);
      });
      upload.addEventListener("error", unreachable(row, file, done));
      upload.send(body);
    });
    presign.xhr.addEventListener("error", unreachable(row, file, done));
    presign.xhr.send(presign.body);
  }

  function enhance() {
    var input = form.querySelector("input[type=file]");
    var dropzone = form.querySelector(".dropzone");
    var accepted = input.getAttribute("accept").split(",");
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10);
    var waiting = [];
    var running = 0;
    var parallel = 3;

    function next() {
      while (running < parallel && waiting.length) {
        var job = waiting.shift();
        running += 1;
        sendOne(job.file, job.row, function () {
          running -= 1;
          next();
        });
      }
    }

    function send(files) {
      Array.prototype.forEach.call(files, function (file) {
        var row = addRow(file);
        var problem = check(file, accepted, maxBytes);
        // One bad file does not stop the others.
        if (problem) failRow(row, file, problem);
        else waiting.push({ file: file, row: row });
      });
      next();
    }

    input.multiple = true;
    input.required = false;
    form.querySelector(".js-only").hidden = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!input.files.length) {
        input.focus();
        announce("Choose one or more images first.");
        return;
      }
      send(input.files);
      input.value = "";
    });
    ["dragenter", "dragover"].forEach(function (type) {
      dropzone.addEventListener(type, function (event) {
        event.preventDefault();
        dropzone.classList.add("dragging");
      });
    });
    dropzone.addEventListener("dragleave", function () { dropzone.classList.remove("dragging"); });
    dropzone.addEventListener("drop", function (event) {
      event.preventDefault();
      dropzone.classList.remove("dragging");
      if (event.dataTransfer && event.dataTransfer.files.length) send(event.dataTransfer.files);
    });
  }

  if (form && queue && window.FormData && window.XMLHttpRequest) enhance();
  followStatuses(true);
})();
