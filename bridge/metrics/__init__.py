"""The metrics over REST: the catalog of named PromQL expressions (`catalog`), the shared
current snapshot (`snapshot`, also what the stream pollers evaluate), the hosts being scraped
(`instances`), the REST routes (`routes`) and their OpenAPI description (`apidoc`)."""
