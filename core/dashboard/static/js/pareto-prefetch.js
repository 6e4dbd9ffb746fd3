// A tab opened on the Pareto page (#/e/ID/pareto) asks for its data here, from the HTML's head,
// while the app's modules are still loading: the server computes the front meanwhile.
// views/pareto.js takes the answer (once, and only for the same experiment).
(function () {
  var m = /^#\/?e\/([^/?]+)\/pareto\/?(?:\?|$)/.exec(window.location.hash);
  if (!m) return;
  var id;
  try { id = decodeURIComponent(m[1]); } catch (e) { return; }
  var url = "/api/experiments/" + encodeURIComponent(id) + "/pareto";
  window.__hlParetoPrefetch = { url: url, response: fetch(url, { headers: { Accept: "application/json" } }) };
})();
