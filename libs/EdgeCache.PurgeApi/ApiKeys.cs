using System.Security.Cryptography;
using System.Text;

namespace EdgeCache.PurgeApi;

/// <summary>An authenticated key: its id and the hosts it may touch (null = every host).</summary>
public sealed record ApiKey(string Id, HashSet<string>? Hosts)
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
    private readonly (byte[] Hash, ApiKey Key)[] _keys;

    public ApiKeys(IEnumerable<ApiKeyOptions> keys)
    {
        _keys = [.. keys.Select(k => (Convert.FromHexString(k.Sha256), new ApiKey(k.Id, k.Hosts.Contains("*") ? null : new HashSet<string>(k.Hosts.Select(h => h.ToLowerInvariant()), StringComparer.Ordinal))))];
    }

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
        foreach (var (h, key) in _keys)
        {
            Interlocked.Increment(ref Comparisons);
            if (CryptographicOperations.FixedTimeEquals(hash, h)) found ??= key;
        }

        return found;
    }
}
