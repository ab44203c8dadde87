// Checks chosen evidence files before the form is sent: a file over the size limit or of a
// type the site refuses is named under its field at once, and the form is not sent, so
// nothing typed is lost to a long upload that the server would refuse anyway. The server
// checks everything again (this is only a convenience). Limits and messages come from the
// <body>'s data-upload-* attributes, in the page's language.
(function () {
  var rules = document.body.dataset;
  if (!rules.uploadMaxBytes) return;
  var maxBytes = parseInt(rules.uploadMaxBytes, 10);
  var extensions = rules.uploadExtensions.split(" ");

  function problem(file) {
    var dot = file.name.lastIndexOf(".");
    var extension = dot < 0 ? "" : file.name.slice(dot + 1).toLowerCase();
    if (extensions.indexOf(extension) < 0) return rules.uploadWrongType;
    if (file.size > maxBytes) return rules.uploadTooLarge;
    return null;
  }

  function feedback(input) {
    var id = input.id + "-client-errors";
    var box = document.getElementById(id);
    if (!box) {
      box = document.createElement("div");
      box.id = id;
      box.className = "invalid-feedback";
      box.setAttribute("role", "alert");
      box.dataset.uploadError = "";
      input.insertAdjacentElement("afterend", box);
    }
    return box;
  }

  function check(input) {
    var messages = [];
    Array.prototype.forEach.call(input.files || [], function (file) {
      var message = problem(file);
      if (message) messages.push(message.replace("{name}", file.name));
    });
    var box = feedback(input);
    box.textContent = messages.join(" ");
    box.style.display = messages.length ? "block" : "";
    input.classList.toggle("is-invalid", messages.length > 0);
    if (messages.length) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", box.id);
    } else {
      input.removeAttribute("aria-invalid");
    }
    return messages.length === 0;
  }

  document.querySelectorAll("input[type=file]").forEach(function (input) {
    if (!input.accept) input.accept = extensions.map(function (e) { return "." + e; }).join(",");
    input.addEventListener("change", function () { check(input); });
  });
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var first = null;
      form.querySelectorAll("input[type=file]").forEach(function (input) {
        if (!check(input) && !first) first = input;
      });
      if (first) {
        event.preventDefault();
        first.focus();
      }
    });
  });
})();
