using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace EdgeCache.Engine.Tests;

/// <summary>Builders shared by the engine tests: header dictionaries, fixed clock values, stored responses.</summary>
internal static class TestData
{
    /// <summary>A fixed instant all tests measure from: Wed, 01 Jan 2025 12:00:00 GMT.</summary>
    public static readonly DateTimeOffset T0 = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Header fields in order; a name given twice becomes two field lines.</summary>
    public static HeaderDictionary Headers(params (string Name, string Value)[] fields)
    {
        var headers = new HeaderDictionary();
        foreach (var (name, value) in fields)
        {
            ((IHeaderDictionary)headers).Append(name, value);
        }

        return headers;
    }

    public static string Http(DateTimeOffset when) => HeaderUtilities.FormatDate(when);

    /// <summary>A stored 200 created at <see cref="T0"/> with no request or response delay.</summary>
    public static CachedResponse Stored(HeaderDictionary responseHeaders, HeaderDictionary? requestHeaders = null, byte[]? body = null) =>
        CachedResponseFactory.Create(200, responseHeaders, requestHeaders ?? Headers(), CacheBody.FromBytes(body ?? [1, 2, 3]), T0, T0, HeuristicOptions.Default);
}
