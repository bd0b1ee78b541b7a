using System.Globalization;
using System.Net;

namespace EdgeCache.ClusterTool;

/// <summary>The HTTP client every command shares, and reading an object's version off a response.</summary>
internal static class Http
{
    public static HttpClient Create() => new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(2),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(20),
        MaxConnectionsPerServer = 64,
        AutomaticDecompression = DecompressionMethods.None,
    })
    { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The load origin's <c>X-Origin-Version</c> (0 when absent).</summary>
    public static long Version(HttpResponseMessage response) =>
        response.Headers.TryGetValues("X-Origin-Version", out var values)
        && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0;

    /// <summary>GET <paramref name="path"/> from <paramref name="baseUrl"/> with <paramref name="host"/> as Host: status, version, body.</summary>
    public static async Task<(HttpStatusCode Status, long Version, byte[] Body)> GetAsync(HttpClient http, string baseUrl, string host, string path, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, baseUrl + path);
        request.Headers.Host = host;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        using var response = await http.SendAsync(request, timeout.Token);
        var body = await response.Content.ReadAsByteArrayAsync(timeout.Token);
        return (response.StatusCode, Version(response), body);
    }

    public static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        values.Sort();
        var rank = (int)Math.Ceiling(p / 100 * values.Count) - 1;
        return values[Math.Clamp(rank, 0, values.Count - 1)];
    }
}
