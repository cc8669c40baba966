// Copy buttons on the console: <button data-copy="ID"> copies the value of the input #ID.
// A file, not an inline script, so the page works under a Content-Security-Policy without 'unsafe-inline'.
(function () {
  "use strict";
  function copy(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    var done = function () {
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = "Copy"; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
    } else {  // plain http (not localhost): select it, so Ctrl+C copies
      field.focus();
      field.select();
      try { if (document.execCommand("copy")) { done(); } } catch (e) { /* left selected */ }
    }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (button) { event.preventDefault(); copy(button); }
  });
}());
