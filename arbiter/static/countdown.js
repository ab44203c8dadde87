// Keeps "3 h 12 min left" countdowns current without reloading the page.
(function () {
  function render(el) {
    var deadline = Date.parse(el.dataset.countdownTo);
    var delta = deadline - Date.now();
    var minutes = Math.floor(Math.abs(delta) / 60000);
    var text = (delta < 0 ? el.dataset.overdue : el.dataset.left)
      .replace("{h}", Math.floor(minutes / 60)).replace("{m}", minutes % 60);
    el.textContent = "(" + text + ")";
    el.classList.toggle("deadline-overdue", delta < 0);
    el.classList.toggle("text-muted", delta >= 0);
  }
  function tick() {
    document.querySelectorAll("[data-countdown-to]").forEach(render);
  }
  tick();
  setInterval(tick, 30000);
})();
