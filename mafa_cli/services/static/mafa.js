// "Submit Message" stays disabled while the text is blank, as in the original demo.
document.addEventListener("DOMContentLoaded", function () {
  var input = document.getElementById("message");
  var button = document.getElementById("submit-message");
  if (!input || !button) { return; }
  var sync = function () { button.disabled = input.value.trim() === ""; };
  input.addEventListener("input", sync);
  sync();
});
