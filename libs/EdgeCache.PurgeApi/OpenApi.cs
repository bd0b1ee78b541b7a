namespace EdgeCache.PurgeApi;

/// <summary>The API's OpenAPI 3.1 description, served at <c>/openapi.json</c>.</summary>
internal static class OpenApi
{
    public const string Document = """
{
  "openapi": "3.1.0",
  "info": {
    "title": "EdgeCache purge API",
    "version": "1.0.0",
    "description": "Purges and TTL changes for publishers. Every accepted request becomes one event on the NATS JetStream invalidation stream, which every edge and shield applies to its memory and disk tiers. Keys are scoped to hosts; send them as 'Authorization: Bearer <key>'."
  },
  "servers": [ { "url": "http://127.0.0.1:8070" } ],
  "security": [ { "bearer": [] } ],
  "paths": {
    "/events": {
      "get": {
        "summary": "The feed of invalidation events for the key's hosts, for a publisher's application instances (long poll)",
        "description": "Answers at once with the events after 'after' that touch the key's hosts, or waits up to timeoutMs for one (then answers with none). Poll again with the answer's 'last'. Each poll registers the instance under the key (it stays registered for PurgeApi:Feed:InstanceLease after its last poll ends) and acknowledges every event up to 'after': a purge by the same key with wait waits for the key's registered instances. Without 'after' (a new instance): no events, 'last' is where to start. 'reset' true: the events after 'after' are no longer held; drop everything cached, then go on from 'last'.",
        "parameters": [
          { "name": "instance", "in": "query", "required": true, "schema": { "type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$" }, "description": "The application instance's id, the same on every poll." },
          { "name": "after", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 }, "description": "The 'last' of the previous answer: every event up to it is applied." },
          { "name": "timeoutMs", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0, "maximum": 30000, "default": 4000 }, "description": "Longest the poll waits for an event (the maximum is PurgeApi:Feed:MaxPollTimeout)." }
        ],
        "responses": {
          "200": { "description": "Events (possibly none) and the next cursor.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/FeedPage" } } } },
          "400": { "$ref": "#/components/responses/Problem" },
          "401": { "$ref": "#/components/responses/Problem" },
          "429": { "description": "Too many failed authentications, or PurgeApi:Feed:MaxInstancesPerKey instances under this key.", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } },
          "503": { "description": "The API has not confirmed within PurgeApi:Feed:Lease that it is caught up with the invalidation stream: the instance must not count itself confirmed.", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }
        }
      },
      "delete": {
        "summary": "An application instance leaves (it is stopping): no purge waits for it any more",
        "parameters": [ { "name": "instance", "in": "query", "required": true, "schema": { "type": "string" } } ],
        "responses": {
          "204": { "description": "Left (or was not registered)." },
          "400": { "$ref": "#/components/responses/Problem" },
          "401": { "$ref": "#/components/responses/Problem" }
        }
      }
    },
    "/purge": {
      "post": {
        "summary": "Purge (or soft-purge) URLs, prefixes, surrogate keys, hosts, or everything for the key's hosts",
        "parameters": [ { "$ref": "#/components/parameters/IdempotencyKey" } ],
        "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PurgeRequest" } } } },
        "responses": {
          "200": { "description": "With wait: the purge's progress when every live node and every application instance registered under the key applied it, or when timeoutMs passed (complete false).", "headers": { "Idempotent-Replayed": { "$ref": "#/components/headers/IdempotentReplayed" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PurgeStatus" } } } },
          "202": { "description": "Without wait: accepted and stored in the stream.", "headers": { "Idempotent-Replayed": { "$ref": "#/components/headers/IdempotentReplayed" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PurgeAccepted" } } } },
          "400": { "$ref": "#/components/responses/Problem" },
          "401": { "$ref": "#/components/responses/Problem" },
          "403": { "$ref": "#/components/responses/Problem" },
          "409": { "description": "The first request with this Idempotency-Key is still being published; retry after Retry-After for its result.", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } },
          "413": { "$ref": "#/components/responses/Problem" },
          "422": { "description": "This Idempotency-Key was used within the window for a different request (another body or endpoint).", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } },
          "429": { "$ref": "#/components/responses/Problem" },
          "503": { "$ref": "#/components/responses/Problem" }
        }
      }
    },
    "/ttl": {
      "post": {
        "summary": "Set a new remaining freshness lifetime (maxAge seconds) for the selected stored objects, shortening or extending it",
        "parameters": [ { "$ref": "#/components/parameters/IdempotencyKey" } ],
        "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/TtlRequest" } } } },
        "responses": {
          "200": { "description": "With wait.", "headers": { "Idempotent-Replayed": { "$ref": "#/components/headers/IdempotentReplayed" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PurgeStatus" } } } },
          "202": { "description": "Without wait.", "headers": { "Idempotent-Replayed": { "$ref": "#/components/headers/IdempotentReplayed" } }, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PurgeAccepted" } } } },
          "400": { "$ref": "#/components/responses/Problem" },
          "401": { "$ref": "#/components/responses/Problem" },
          "403": { "$ref": "#/components/responses/Problem" },
          "409": { "description": "The first request with this Idempotency-Key is still being published; retry after Retry-After for its result.", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } },
          "413": { "$ref": "#/components/responses/Problem" },
          "422": { "description": "This Idempotency-Key was used within the window for a different request (another body or endpoint).", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } },
          "429": { "$ref": "#/components/responses/Problem" },
          "503": { "$ref": "#/components/responses/Problem" }
        }
      }
    },
    "/warm": {
      "post": {
        "summary": "Warm URLs into the shield each hashes to (and with edges, every edge); with refresh, replace each URL's copies everywhere by a new one fetched first",
        "description": "Each URL is fetched once into the shield the edges' consistent hash picks for it, joining any miss in flight there; its first hit there carries Cache-Status detail=warmed. With refresh the shield fetches past its stored copy, then one purge removes every older copy on every node (wait: until every live node applied it), so no reader pays the miss. At most PurgeApi:Warm:MaxUrls URLs a call (413), PurgeApi:Warm:UrlsPerSecond per key (429). Hosts must be in the key's scope (403).",
        "requestBody": { "required": true, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/WarmRequest" } } } },
        "responses": {
          "200": { "description": "Every URL's outcome (warmed or failed with status and reason); for a refresh, its purge.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/WarmResponse" } } } },
          "400": { "$ref": "#/components/responses/Problem" },
          "401": { "$ref": "#/components/responses/Problem" },
          "403": { "$ref": "#/components/responses/Problem" },
          "413": { "$ref": "#/components/responses/Problem" },
          "429": { "$ref": "#/components/responses/Problem" },
          "503": { "$ref": "#/components/responses/Problem" }
        }
      }
    },
    "/purge/{id}": {
      "get": {
        "summary": "A purge's progress, later (the latest purges are kept)",
        "parameters": [ { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } } ],
        "responses": {
          "200": { "description": "Progress", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/PurgeStatus" } } } },
          "401": { "$ref": "#/components/responses/Problem" },
          "404": { "$ref": "#/components/responses/Problem" }
        }
      }
    }
  },
  "components": {
    "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
    "parameters": {
      "IdempotencyKey": {
        "name": "Idempotency-Key", "in": "header", "required": false,
        "description": "Makes retries safe (draft-ietf-httpapi-idempotency-key-header). 1 to 255 visible ASCII characters (a quoted string is the same key unquoted), unique per request, e.g. a UUID. Scoped to the API key. A repeat within PurgeApi:IdempotencyWindow (default 24 h) with the same body on the same endpoint is answered with the first call's status and purge (same id and sequence; with wait, its progress now) and 'Idempotent-Replayed: true', without a second event. A different body: 422. While the first is still being published: 409. Requests refused (4xx) or not published (503) are not remembered. Remembered in this API instance's memory.",
        "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7E]+$" }
      }
    },
    "headers": {
      "IdempotentReplayed": { "description": "true when this answer is a replay of an earlier request with the same Idempotency-Key.", "schema": { "type": "string", "enum": [ "true" ] } }
    },
    "responses": {
      "Problem": { "description": "RFC 9457 problem details naming what was wrong", "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } }
    },
    "schemas": {
      "WarmRequest": {
        "type": "object",
        "additionalProperties": false,
        "required": [ "urls" ],
        "properties": {
          "urls": { "type": "array", "minItems": 1, "items": { "type": "string", "format": "uri", "maxLength": 4096 }, "description": "Absolute http:// or https:// URLs; repeats are warmed once." },
          "edges": { "type": "boolean", "description": "Also fetch each warmed URL into every live edge." },
          "refresh": { "type": "boolean", "description": "Fetch past the shield's stored copy, then purge every older copy on every node." },
          "wait": { "type": "boolean", "description": "Refresh only: answer once every live node applied the purge of older copies." },
          "timeoutMs": { "type": "integer", "minimum": 1, "description": "Refresh only: longest wait (at most MaxWaitTimeout)." }
        }
      },
      "WarmResponse": {
        "type": "object",
        "required": [ "warmed", "failed", "results" ],
        "properties": {
          "warmed": { "type": "integer" },
          "failed": { "type": "integer" },
          "results": { "type": "array", "items": { "$ref": "#/components/schemas/WarmUrlResult" } },
          "purge": { "$ref": "#/components/schemas/PurgeStatus" },
          "purgeAccepted": { "$ref": "#/components/schemas/PurgeAccepted" }
        }
      },
      "WarmUrlResult": {
        "type": "object",
        "required": [ "url", "outcome" ],
        "properties": {
          "url": { "type": "string" },
          "outcome": { "enum": [ "warmed", "failed" ] },
          "status": { "type": "integer", "description": "The status the CDN answered the warming request with." },
          "cache": { "enum": [ "stored", "hit", "collapsed" ], "description": "Warmed: fetched and stored now, already held, or joined a miss in flight." },
          "reason": { "type": "string", "description": "Failed: why (not stored by the shield, unreachable, timed out)." },
          "via": { "type": "string", "description": "The Via of the answer: which shield and edge." },
          "edges": { "type": "array", "items": { "type": "object", "properties": { "node": { "type": "string" }, "outcome": { "enum": [ "warmed", "failed" ] }, "status": { "type": "integer" }, "reason": { "type": "string" } } } }
        }
      },
      "Selectors": {
        "type": "object",
        "properties": {
          "urls": { "type": "array", "items": { "type": "string", "format": "uri" }, "description": "Every Vary variant of each URL." },
          "prefixes": { "type": "array", "items": { "type": "string", "format": "uri" }, "description": "URL prefixes (scheme, host and path start)." },
          "tags": { "type": "array", "items": { "type": "string", "maxLength": 256 }, "description": "Surrogate keys from the origin's Surrogate-Key (space-separated) or Cache-Tag (comma-separated) header, within the key's hosts." },
          "hosts": { "type": "array", "items": { "type": "string" }, "description": "Everything stored for these hosts." },
          "all": { "type": "boolean", "default": false, "description": "Everything for all of the key's hosts." },
          "wait": { "type": "boolean", "default": false, "description": "Answer once every live node applied it (or timeoutMs passed)." },
          "timeoutMs": { "type": "integer", "minimum": 1, "maximum": 60000, "default": 5000 }
        }
      },
      "PurgeRequest": {
        "allOf": [ { "$ref": "#/components/schemas/Selectors" } ],
        "properties": { "soft": { "type": "boolean", "default": false, "description": "Mark stale (revalidate; may be served stale where the response allows) instead of removing." } },
        "unevaluatedProperties": false
      },
      "TtlRequest": {
        "allOf": [ { "$ref": "#/components/schemas/Selectors" } ],
        "properties": { "maxAge": { "type": "integer", "minimum": 0, "description": "New remaining freshness lifetime, seconds." } },
        "required": [ "maxAge" ],
        "unevaluatedProperties": false
      },
      "PurgeAccepted": {
        "type": "object",
        "properties": { "id": { "type": "string" }, "sequence": { "type": "integer" } },
        "required": [ "id", "sequence" ]
      },
      "PurgeStatus": {
        "type": "object",
        "properties": {
          "id": { "type": "string" },
          "sequence": { "type": "integer", "description": "The event's stream sequence." },
          "complete": { "type": "boolean", "description": "Every node live at publication applied it." },
          "acked": { "type": "array", "items": { "type": "object", "properties": { "node": { "type": "string" }, "ms": { "type": "number" } } } },
          "missing": { "type": "array", "items": { "type": "string" } },
          "instances": { "$ref": "#/components/schemas/InstancesStatus" }
        },
        "required": [ "id", "sequence", "complete", "acked", "missing" ]
      },
      "InstancesStatus": {
        "type": "object",
        "description": "The application instances registered under the purging key at publication (GET /events). 'complete' covers them too.",
        "properties": {
          "acked": { "type": "array", "items": { "type": "object", "properties": { "instance": { "type": "string" }, "ms": { "type": "number" } } } },
          "missing": { "type": "array", "items": { "type": "string" }, "description": "Not applied yet." },
          "left": { "type": "array", "items": { "type": "string" }, "description": "Dropped out (lease ended, or left) before applying it: no longer waited for." }
        },
        "required": [ "acked", "missing", "left" ]
      },
      "FeedPage": {
        "type": "object",
        "properties": {
          "reset": { "type": "boolean", "description": "The events after 'after' are no longer held: drop everything cached." },
          "last": { "type": "integer", "description": "The 'after' of the next poll." },
          "instanceLeaseMs": { "type": "integer", "description": "PurgeApi:Feed:InstanceLease: a purge stops waiting for an instance this long after its last poll ended, so an instance must stop trusting its cache within this long of its last confirmed poll." },
          "events": { "type": "array", "items": { "$ref": "#/components/schemas/FeedEvent" } }
        },
        "required": [ "reset", "last", "instanceLeaseMs", "events" ]
      },
      "FeedEvent": {
        "type": "object",
        "properties": {
          "sequence": { "type": "integer" },
          "id": { "type": "string", "description": "The purge's id." },
          "kind": { "type": "string", "enum": [ "purge", "ttl" ] },
          "urls": { "type": "array", "items": { "type": "string" } },
          "prefixes": { "type": "array", "items": { "type": "string" } },
          "tags": { "type": "array", "items": { "type": "string" } },
          "hosts": { "type": "array", "items": { "type": "string" } },
          "all": { "type": "boolean" },
          "soft": { "type": "boolean" },
          "maxAge": { "type": "integer" },
          "issuedAt": { "type": "string", "format": "date-time" }
        },
        "required": [ "sequence", "id", "kind", "urls", "prefixes", "tags", "hosts", "all", "soft", "issuedAt" ]
      },
      "Problem": {
        "type": "object",
        "properties": { "type": { "type": "string" }, "title": { "type": "string" }, "status": { "type": "integer" }, "detail": { "type": "string" } }
      }
    }
  }
}
""";
}
