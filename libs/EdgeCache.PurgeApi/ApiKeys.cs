using System.Security.Cryptography;
using System.Text;

namespace EdgeCache.PurgeApi;

/// <summary>An authenticated key: its id, the hosts it may touch (null = every host) and its own rate
/// limit where it has one.</summary>
public sealed record ApiKey(string Id, HashSet<string>? Hosts, int? RatePerSecond = null, int? RateBurst = null)
{
    public bool Allows(string host) => Hosts is null || Hosts.Contains(host);
}

/// <summary>
/// Checks bearer keys against the configured SHA-256 hashes. The presented key is hashed, so every
/// comparison is of 32 bytes whatever its length, and it is compared with every configured key in
/// constant time, with no early exit, so timing tells nothing about which bytes matched.
/// </summary>
public sealed class ApiKeys
{
    private volatile (byte[] Hash, ApiKey Key)[] _keys;

    public ApiKeys(IEnumerable<ApiKeyOptions> keys)
    {
        _keys = Table(keys);
    }

    /// <summary>The key ids in force.</summary>
    public IReadOnlyList<string> Ids => [.. _keys.Select(k => k.Key.Id)];

    /// <summary>Puts a new set of keys in force at once (a reload); requests being checked use one set or the other.</summary>
    public void Replace(IEnumerable<ApiKeyOptions> keys) => _keys = Table(keys);

    private static (byte[] Hash, ApiKey Key)[] Table(IEnumerable<ApiKeyOptions> keys) =>
        [.. keys.Select(k => (Convert.FromHexString(k.Sha256), new ApiKey(
            k.Id,
            k.Hosts.Contains("*") ? null : new HashSet<string>(k.Hosts.Select(h => h.ToLowerInvariant()), StringComparer.Ordinal),
            k.RatePerSecond,
            k.RateBurst)))];

    /// <summary>Counts comparisons made (tests check that every key is compared on every call).</summary>
    internal long Comparisons;

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The key an <c>Authorization</c> header carries, or null when it is missing or matches none.</summary>
    public ApiKey? Authenticate(string? authorization)
    {
        const string Scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)) return null;
        var presented = authorization.AsSpan(Scheme.Length).Trim();
        if (presented.IsEmpty) return null;
        Span<byte> hash = stackalloc byte[32];
        var bytes = Encoding.UTF8.GetBytes(presented.ToString());
        SHA256.HashData(bytes, hash);
        ApiKey? found = null;
        foreach (var (h, key) in _keys) // one snapshot: a reload swaps the whole array
        {
            Interlocked.Increment(ref Comparisons);
            if (CryptographicOperations.FixedTimeEquals(hash, h)) found ??= key;
        }

        return found;
    }
}
