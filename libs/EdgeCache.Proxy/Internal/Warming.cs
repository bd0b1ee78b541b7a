using EdgeCache.Engine;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Proxy.Internal;

/// <summary>What a warming request from the purge API asks of this node.</summary>
internal enum WarmMode
{
    /// <summary>An ordinary request (or one whose <see cref="HeaderRules.Warm"/> is not trusted).</summary>
    None,

    /// <summary><c>shield</c>: an edge passes it to the shield the key hashes to, storing nothing; that
    /// shield answers from its store or fetches (collapsed with a miss in flight) and stores.</summary>
    Shield,

    /// <summary><c>edge</c>: an edge looks up, and on a miss fetches from its shield and stores, as for a
    /// client (the shield fills itself the same way); the stored copy is marked warmed.</summary>
    Edge,

    /// <summary><c>refresh</c>: an edge passes it on; the shield fetches from the origin past its stored copy
    /// (no validators, no collapsing with a fetch that may have started before the publisher's update) and
    /// stores the new copy with the request's <see cref="HeaderRules.CopyId"/>.</summary>
    Refresh,
}

/// <summary>Reads the purge API's warming fields: trusted only beside one of the node's tier secrets.</summary>
internal static class Warming
{
    /// <summary>Longest copy id accepted (the purge API sends 32 hex digits).</summary>
    public const int MaxCopyIdLength = 64;

    /// <summary>The request's warm mode, and for a refresh its copy id; <see cref="WarmMode.None"/> for a request
    /// without the field, with a value this node does not know, or without a valid tier secret.</summary>
    public static WarmMode Read(IHeaderDictionary headers, EdgeCacheOptions options, out string? copyId)
    {
        copyId = null;
        var value = headers[HeaderRules.Warm];
        if (value.Count == 0) return WarmMode.None;
        if (value.Count != 1 || !Forwarding.IsTrustedTier(headers[HeaderRules.TierAuth], options.TierSecrets)) return WarmMode.None;
        switch (value[0])
        {
            case "shield":
                return WarmMode.Shield;
            case "edge":
                return WarmMode.Edge;
            case "refresh" when IsCopyId(headers[HeaderRules.CopyId], out copyId):
                return WarmMode.Refresh;
            default:
                return WarmMode.None;
        }
    }

    private static bool IsCopyId(Microsoft.Extensions.Primitives.StringValues value, out string? copyId)
    {
        copyId = null;
        if (value.Count != 1 || value[0] is not { Length: > 0 and <= MaxCopyIdLength } v) return false;
        foreach (var c in v)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_')) return false;
        }

        copyId = v;
        return true;
    }
}
