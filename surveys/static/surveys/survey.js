/* One question page: unlock the scale once both pictures have loaded and the minimum time has
   passed, time the answer from the pictures' load and from the unlock (the speed rules read the
   second: the first can never be under the minimum), answer with the keys 1-5 and Enter, and
   send the form once only. Without JavaScript the page still works; the server checks the
   time. */
(function () {
  "use strict";

  var form = document.getElementById("answer");
  if (!form) { return; }
  var scale = form.querySelector("fieldset.scale");
  var radios = Array.prototype.slice.call(form.querySelectorAll("input[name=score]"));
  var button = form.querySelector("button[type=submit]");
  var rtField = form.querySelector("input[name=client_rt_ms]");
  var unlockedField = form.querySelector("input[name=unlocked_rt_ms]");
  var status = document.getElementById("scale-status");
  var images = Array.prototype.slice.call(form.querySelectorAll("img.picture"));
  var minMs = Math.max(0, Number(form.getAttribute("data-min-ms")) || 0);
  var shownAt = null;
  var unlockedAt = null;
  var ready = false;
  var sent = false;

  function say(text) { status.textContent = text; }

  function lock() {
    scale.disabled = true;
    button.disabled = true;
    form.setAttribute("data-ready", "false");
    say("The scale unlocks once both pictures have loaded.");
  }

  function unlock() {
    unlockedAt = performance.now();
    ready = true;
    scale.disabled = false;
    button.disabled = false;
    form.setAttribute("data-ready", "true");
    say("Choose a rating from 1 to 5, then press Next (or Enter).");
  }

  function loaded(img) {
    return new Promise(function (resolve, reject) {
      if (img.complete && img.naturalWidth > 0) { resolve(); return; }
      img.addEventListener("load", function () { resolve(); }, { once: true });
      img.addEventListener("error", function () { reject(img); }, { once: true });
    });
  }

  lock();
  Promise.all(images.map(loaded)).then(function () {
    shownAt = performance.now();
    if (minMs > 0) {
      say("Please look at both pictures; the scale unlocks in a moment.");
      window.setTimeout(unlock, minMs);
    } else {
      unlock();
    }
  }, function () {
    say("A picture did not load. Please reload the page.");
  });

  form.addEventListener("submit", function (event) {
    if (!ready || sent) { event.preventDefault(); return; }
    if (!radios.some(function (r) { return r.checked; })) {
      event.preventDefault();
      say("Please choose a rating from 1 to 5 first.");
      return;
    }
    var now = performance.now();
    rtField.value = String(Math.round(now - shownAt));
    if (unlockedField) { unlockedField.value = String(Math.round(now - unlockedAt)); }
    sent = true;
    // Only the button is disabled: disabled radios would drop the answer from the post.
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    say("Saving your answer...");
  });

  document.addEventListener("keydown", function (event) {
    if (!ready || sent || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var target = event.target;
    if (target && (target.tagName === "TEXTAREA" ||
        (target.tagName === "INPUT" && target.type === "text"))) { return; }
    if (event.key >= "1" && event.key <= "5") {
      var radio = form.querySelector("input[name=score][value='" + event.key + "']");
      radio.checked = true;
      radio.focus();
      event.preventDefault();
    } else if (event.key === "Enter" && target !== button) {
      if (radios.some(function (r) { return r.checked; })) {
        event.preventDefault();
        form.requestSubmit();
      }
    }
  });

  // A page restored from the back-forward cache would keep its "sent" state; ask the server
  // where the participant is instead.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.reload(); }
  });
})();
