// Irreversible actions ask first (issue 22 item 9). An element with data-confirm="<id>" (a
// form, or a link to a confirmation page) opens the <dialog> of that id, which states the
// consequence and holds the confirmed form; cancelling closes it and changes nothing.
// Without JavaScript (or <dialog>) the form's first post or the link shows the same
// consequence on a confirmation page instead.
(function () {
  document.querySelectorAll("[data-confirm]").forEach(function (trigger) {
    var dialog = document.getElementById(trigger.dataset.confirm);
    if (!dialog || typeof dialog.showModal !== "function") {
      return;
    }
    var open = function (event) {
      event.preventDefault();
      dialog.showModal();
    };
    trigger.addEventListener(trigger.tagName === "FORM" ? "submit" : "click", open);
  });
})();
