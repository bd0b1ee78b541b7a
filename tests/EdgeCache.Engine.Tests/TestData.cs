using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Engine.Tests;

/// <summary>Builders shared by the engine tests: header dictionaries, fixed clock values, stored responses.</summary>
internal static class TestData
{
    /// <summary>A fixed instant all tests measure from: Wed, 01 Jan 2025 12:00:00 GMT.</summary>
    public static readonly DateTimeOffset T0 = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Header fields in order; a name given twice becomes two field lines. An empty value is kept
    /// as a present, empty field, as Kestrel does (HeaderDictionary's setter would drop it).
    /// </summary>
    public static HeaderDictionary Headers(params (string Name, string Value)[] fields)
    {
        var store = new Dictionary<string, StringValues>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in fields)
        {
            store[name] = store.TryGetValue(name, out var existing) ? StringValues.Concat(existing, value) : new StringValues(value);
        }

        return new HeaderDictionary(store);
    }

    public static string Http(DateTimeOffset when) => HeaderUtilities.FormatDate(when);

    /// <summary>A stored 200 created at <see cref="T0"/> with no request or response delay.</summary>
    public static CachedResponse Stored(HeaderDictionary responseHeaders, HeaderDictionary? requestHeaders = null, byte[]? body = null) =>
        CachedResponseFactory.Create(200, responseHeaders, requestHeaders ?? Headers(), CacheBody.FromBytes(body ?? [1, 2, 3]), T0, T0, HeuristicOptions.Default);
}
