/* Keyboard shortcuts of the naming review queue.
 *
 * a accept, e edit (focus the name field), Enter save the edit, r reject, s or j skip,
 * Esc leave the name field. Each key presses the card's own form or link, so htmx (when
 * loaded) or a plain form POST does the rest; nothing here talks to the server itself.
 */
(function () {
  "use strict";

  function card() {
    return document.getElementById("review-card");
  }

  function control(action) {
    var root = card();
    return root ? root.querySelector('[data-action="' + action + '"]') : null;
  }

  function submit(action) {
    var form = control(action);
    var button = form ? form.querySelector("button[type=submit]") : null;
    if (!form || (button && button.disabled)) return false;
    form.requestSubmit(button || undefined);
    return true;
  }

  function editName() {
    var form = control("edit");
    var field = form ? form.querySelector('input[name="name"]') : null;
    if (!field) return false;
    field.focus();
    field.select();
    return true;
  }

  function skip() {
    var link = control("skip");
    if (!link) return false;
    link.click();
    return true;
  }

  function typing(target) {
    if (!(target instanceof HTMLElement)) return false;
    return target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName);
  }

  var actions = { a: function () { return submit("accept"); },
                  r: function () { return submit("reject"); },
                  e: editName, s: skip, j: skip };

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (typing(event.target)) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    var action = actions[event.key];
    if (action && action()) event.preventDefault();
  });
})();
