// The impact page's progress bar while a replay runs in the background: asks the status
// endpoint every second, moves the bar, and reloads the page (which then shows the
// figures or the failure) once the run has finished. Without JavaScript the page
// refreshes itself (a <noscript> meta refresh) and offers a reload link.
(function () {
  var box = document.querySelector("[data-impact-progress]");
  if (!box || !window.fetch) {
    return;
  }
  var bar = box.querySelector("progress");
  var count = box.querySelector("[data-progress-count]");
  function poll() {
    fetch(box.dataset.impactProgress, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (status) {
        if (status && (status.state === "done" || status.state === "failed")) {
          window.location.reload();
          return;
        }
        if (status && status.total !== null) {
          bar.max = Math.max(status.total, 1);
          bar.value = status.processed;
          bar.textContent = status.percent + " %";
          count.textContent = box.dataset.progressText
            .replace("{processed}", status.processed).replace("{total}", status.total);
        }
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 1000); });
  }
  setTimeout(poll, 1000);
})();
