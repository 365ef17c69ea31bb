// The new-case form of the portal: while the customer types the subject, the articles that
// match it are fetched (from this site only) and shown; without this script the form's
// "Find answers" button does the same.
(function () {
  "use strict";
  var subject = document.getElementById("subject");
  var shown = document.getElementById("suggestions");
  if (!subject || !shown || !window.fetch) { return; }
  var timer = null;
  subject.addEventListener("input", function () {
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      var url = "/portal/suggestions?subject=" + encodeURIComponent(subject.value);
      window.fetch(url, { credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.text() : ""; })
        .then(function (html) {
          if (!html) { return; }
          var parsed = new DOMParser().parseFromString(html, "text/html");
          var fresh = parsed.getElementById("suggestions");
          if (fresh) { shown.replaceWith(fresh); shown = fresh; }
        })
        .catch(function () {});
    }, 300);
  });
})();
