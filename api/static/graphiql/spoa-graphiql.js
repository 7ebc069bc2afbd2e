// SPOA's GraphiQL page: the IDE from this folder (no CDN), queries over HTTP and subscriptions
// over WebSocket (graphql-transport-ws) at the same /graphql. The header editor's headers go
// with every request, and with a subscription's connection_init: put the session token there,
// {"Authorization": "Bearer <token>"} (the login mutation gives one).
(function () {
  "use strict";
  var endpoint = window.location.origin + "/graphql";
  var socketUrl = endpoint.replace(/^http/, "ws");
  var search = new URLSearchParams(window.location.search);
  var help =
    "# SPOA GraphiQL\n" +
    "#\n" +
    "# 1. Log in (the token is in the answer):\n" +
    "#    mutation { login(username: \"...\", password: \"...\") { session { token } userErrors { code message } } }\n" +
    "# 2. Put it in the Headers tab below: {\"Authorization\": \"Bearer <token>\"}\n" +
    "#    (outside dev mode the schema loads once the token is there: reload the schema)\n" +
    "# 3. Queries, mutations and subscriptions, e.g.\n" +
    "#    subscription { ticketUpdates { position type ticket { number status } } }\n" +
    "\n{ me { username role province } }\n";
  var fetcher = GraphiQL.createFetcher({ url: endpoint, subscriptionUrl: socketUrl });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: help,
      query: search.get("query") || undefined,
      variables: search.get("variables") || undefined,
      headers: search.get("headers") || undefined,
      defaultHeaders: "{\n  \"Authorization\": \"Bearer \"\n}",
      defaultEditorToolsVisibility: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: false,
    })
  );
})();
