using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using EdgeCache.FunctionalTests.Infrastructure;

namespace EdgeCache.FunctionalTests;

/// <summary>Failed purge-API authentications are limited per TCP peer address (issue: hardening).</summary>
[Collection(InvalidationFixtureGroup.Name)]
public sealed class PurgeApiAuthTests(InvalidationTopology cdn)
{
    /// <summary>A client whose connections come from <paramref name="source"/> (any 127/8 address is loopback).</summary>
    private static HttpClient ClientFrom(IPAddress source) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        ConnectCallback = async (context, token) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(source, 0));
                await socket.ConnectAsync(context.DnsEndPoint, token);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    });

    private async Task<HttpResponseMessage> PurgeAsync(HttpClient client, string key, string? forwardedFor = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(cdn.ApiUri, "/purge"))
        {
            Content = new StringContent("{\"urls\":[\"http://www.example.com/auth-test\"]}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (forwardedFor is not null) request.Headers.TryAddWithoutValidation("X-Forwarded-For", forwardedFor);
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task Wrong_keys_from_one_address_are_refused_429_without_refusing_other_addresses()
    {
        using var attacker = ClientFrom(IPAddress.Parse("127.0.0.7"));
        var statuses = new List<HttpStatusCode>();
        string? retryAfter = null;
        for (var i = 0; i < 100; i++)
        {
            // A forged X-Forwarded-For changes nothing: failures count per TCP peer.
            using var r = await PurgeAsync(attacker, "wrong-key-" + i, forwardedFor: "198.51.100." + (i % 250));
            statuses.Add(r.StatusCode);
            if (r.StatusCode == HttpStatusCode.TooManyRequests)
            {
                retryAfter ??= r.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            }
        }

        Assert.Equal(HttpStatusCode.Unauthorized, statuses[0]);
        Assert.True(statuses.Count(s => s == HttpStatusCode.TooManyRequests) >= 80, string.Join(",", statuses.Select(s => (int)s)));
        Assert.NotNull(retryAfter);

        // The limited address is refused even with a valid key (no oracle for guesses) ...
        using (var valid = await PurgeAsync(attacker, InvalidationTopology.AllKey)) Assert.Equal(HttpStatusCode.TooManyRequests, valid.StatusCode);

        // ... and another address with a valid key is not refused because of its failures.
        using var other = ClientFrom(IPAddress.Parse("127.0.0.8"));
        using var ok = await PurgeAsync(other, InvalidationTopology.AllKey);
        Assert.Equal(HttpStatusCode.Accepted, ok.StatusCode);
    }
}
