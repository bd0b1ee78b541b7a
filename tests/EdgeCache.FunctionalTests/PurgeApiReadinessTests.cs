using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.PurgeApi;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests;

/// <summary>A purge API that does not follow the nodes' acknowledgements yet (here: its NATS server is not
/// there) refuses purges at once with a 503 that says so, instead of publishing one whose acks it cannot hear.</summary>
public sealed class PurgeApiReadinessTests
{
    [Fact]
    public async Task A_purge_before_the_api_is_ready_is_refused_at_once_with_503_and_Retry_After()
    {
        int closedPort;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            closedPort = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        await using var api = PurgeApiHost.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(InvalidationTopology.ApiConfig($"nats://127.0.0.1:{closedPort}"));
            builder.Logging.ClearProviders();
        });
        await api.StartAsync();
        var uri = new Uri(api.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var client = new HttpClient();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync(new Uri(uri, "/readyz"))).StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(uri, "/purge"))
        {
            Content = new StringContent("{\"urls\":[\"http://www.example.com/not-ready\"],\"wait\":true,\"timeoutMs\":30000}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", InvalidationTopology.AllKey);
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("Purge API not ready", problem.GetProperty("title").GetString());
        // Refused before publishing: not the publish's failure after its timeout ("Invalidation stream unavailable").
        Assert.Contains("nothing was published", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Credentials and the request are still checked first: no key is 401, a body with no selector 400.
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync(new Uri(uri, "/purge"), new StringContent("{}"))).StatusCode);
        using var empty = new HttpRequestMessage(HttpMethod.Post, new Uri(uri, "/purge")) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        empty.Headers.Authorization = new AuthenticationHeaderValue("Bearer", InvalidationTopology.AllKey);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(empty)).StatusCode);
        await api.StopAsync();
    }
}
