/* The page of a post the database could not take (surveys/platform/outage.py): send the same
   form again once the server's Retry-After has passed, plus up to half as long again so that a
   crowd that lost the database together does not come back in one instant. A re-post that fails
   again gets this page again, so the loop ends when the database is back. Without JavaScript
   the button sends it. */
(function () {
  "use strict";

  var form = document.getElementById("retry");
  if (!form) { return; }
  var status = document.getElementById("retry-status");
  var seconds = Math.max(1, Number(form.getAttribute("data-retry-after")) || 5);
  var sent = false;

  function send() {
    if (sent) { return; }
    sent = true;
    status.textContent = "Sending it again...";
    form.submit();
  }

  form.addEventListener("submit", function (event) {
    if (sent) { event.preventDefault(); return; }
    sent = true;
  });
  status.textContent = "Trying again in a few seconds.";
  window.setTimeout(send, seconds * 1000 * (1 + Math.random() / 2));
})();
