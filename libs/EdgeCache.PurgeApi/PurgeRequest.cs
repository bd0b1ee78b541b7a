using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeCache.Engine;

namespace EdgeCache.PurgeApi;

/// <summary>The body of <c>POST /purge</c> and <c>POST /ttl</c>. Unknown fields are refused.</summary>
public sealed class PurgeRequest
{
    public string[]? Urls { get; set; }
    public string[]? Prefixes { get; set; }
    public string[]? Tags { get; set; }
    public string[]? Hosts { get; set; }
    public bool? All { get; set; }
    public bool? Soft { get; set; }
    public bool? Wait { get; set; }
    public int? TimeoutMs { get; set; }
    public long? MaxAge { get; set; }
}

/// <summary>A refusal: the status and a problem description naming what was wrong.</summary>
public sealed record RequestProblem(int Status, string Title, string Detail);

/// <summary>Parses and validates purge requests into events, within the key's hosts.</summary>
public static class PurgeRequestParser
{
    private const int MaxUrlLength = 4096;
    private const int MaxTagLength = 256;
    private const long MaxTtlSeconds = 10L * 365 * 24 * 3600;

    /// <summary>Reads the JSON body; a problem when it is not a well-formed request.</summary>
    public static (PurgeRequest? Request, RequestProblem? Problem) Parse(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty) return (null, new RequestProblem(400, "Empty body", "The request needs a JSON object with at least one selector (urls, prefixes, tags, hosts or all)."));
        try
        {
            var request = JsonSerializer.Deserialize(body, PurgeJsonContext.Default.PurgeRequest);
            return request is null
                ? (null, new RequestProblem(400, "Malformed JSON", "The body must be a JSON object."))
                : (request, null);
        }
        catch (JsonException ex)
        {
            var where = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "" : $" at {ex.Path}";
            var what = ex.Message.Contains("could not be mapped", StringComparison.Ordinal) ? "Unknown field"
                : ex.Message.Contains("maximum configured depth", StringComparison.OrdinalIgnoreCase) ? "Too deeply nested"
                : "Malformed JSON";
            return (null, new RequestProblem(400, what, $"{what}{where}: {FirstSentence(ex.Message)}"));
        }
    }

    private static string FirstSentence(string message)
    {
        var dot = message.IndexOf(". ", StringComparison.Ordinal);
        return dot > 0 ? message[..(dot + 1)] : message;
    }

    /// <summary>Validates a parsed request for <paramref name="kind"/> and builds its event.</summary>
    public static (InvalidationEvent? Event, RequestProblem? Problem) Validate(PurgeRequest r, InvalidationKind kind, ApiKey key, PurgeApiOptions options, string id, DateTimeOffset now)
    {
        var urls = r.Urls ?? [];
        var prefixes = r.Prefixes ?? [];
        var tags = r.Tags ?? [];
        var hosts = r.Hosts ?? [];
        var all = r.All ?? false;
        var count = urls.Length + prefixes.Length + tags.Length + hosts.Length;
        if (count > options.MaxSelectors) return Bad("Too many selectors", $"The request has {count} selectors; at most {options.MaxSelectors} are accepted per request.");
        if (count == 0 && !all) return Bad("No selector", "Give at least one of urls, prefixes, tags, hosts, or all: true.");
        if (kind == InvalidationKind.Ttl)
        {
            if (r.Soft is not null) return Bad("Unknown field", "'soft' does not apply to /ttl.");
            if (r.MaxAge is not { } m) return Bad("Missing maxAge", "/ttl needs maxAge: the new remaining freshness lifetime in seconds.");
            if (m < 0 || m > MaxTtlSeconds) return Bad("Invalid maxAge", $"maxAge must be between 0 and {MaxTtlSeconds} seconds.");
        }
        else if (r.MaxAge is not null)
        {
            return Bad("Unknown field", "'maxAge' applies to /ttl, not /purge.");
        }

        if (r.TimeoutMs is { } t && (t <= 0 || t > options.MaxWaitTimeout.TotalMilliseconds))
        {
            return Bad("Invalid timeoutMs", $"timeoutMs must be between 1 and {(long)options.MaxWaitTimeout.TotalMilliseconds}.");
        }

        foreach (var (list, field) in new[] { (urls, "urls"), (prefixes, "prefixes") })
        {
            for (var i = 0; i < list.Length; i++)
            {
                var u = list[i];
                if (u is null || u.Length > MaxUrlLength || !Uri.TryCreate(u, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
                {
                    return Bad("Invalid URL", $"{field}[{i}] must be an absolute http:// or https:// URL of at most {MaxUrlLength} characters.");
                }

                if (!key.Allows(uri.Host.ToLowerInvariant())) return Forbidden(uri.Host);
            }
        }

        var normalizedHosts = new string[hosts.Length];
        for (var i = 0; i < hosts.Length; i++)
        {
            var h = hosts[i];
            if (string.IsNullOrWhiteSpace(h) || h.Length > 253 || Uri.CheckHostName(h) == UriHostNameType.Unknown)
            {
                return Bad("Invalid host", $"hosts[{i}] must be a host name (no scheme, port or path).");
            }

            normalizedHosts[i] = h.ToLowerInvariant();
            if (!key.Allows(normalizedHosts[i])) return Forbidden(h);
        }

        for (var i = 0; i < tags.Length; i++)
        {
            var tag = tags[i];
            if (string.IsNullOrEmpty(tag) || tag.Length > MaxTagLength || tag.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == ','))
            {
                return Bad("Invalid tag", $"tags[{i}] must be 1 to {MaxTagLength} characters without spaces, commas or control characters.");
            }
        }

        var scope = key.Hosts is null ? null : key.Hosts.Order(StringComparer.Ordinal).ToArray();
        if (all && scope is not null) normalizedHosts = [.. normalizedHosts.Concat(scope).Distinct(StringComparer.Ordinal)];
        return (new InvalidationEvent
        {
            Id = id,
            Kind = kind,
            Urls = urls,
            Prefixes = prefixes,
            Tags = tags,
            Hosts = normalizedHosts,
            All = all && scope is null,
            Scope = scope,
            Soft = r.Soft ?? false,
            MaxAge = r.MaxAge,
            IssuedAt = now,
            KeyId = key.Id,
        }, null);
    }

    private static (InvalidationEvent?, RequestProblem?) Bad(string title, string detail) => (null, new RequestProblem(400, title, detail));

    private static (InvalidationEvent?, RequestProblem?) Forbidden(string host) =>
        (null, new RequestProblem(403, "Host not allowed", $"This key may not purge the host '{host}'."));
}

// MaxDepth bounds the requests read and the answers written: a status with instances is 5 deep (status, instances, acked, one ack).
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, MaxDepth = 5, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(PurgeRequest))]
[JsonSerializable(typeof(PurgeStatus))]
[JsonSerializable(typeof(PurgeAccepted))]
internal sealed partial class PurgeJsonContext : JsonSerializerContext;
