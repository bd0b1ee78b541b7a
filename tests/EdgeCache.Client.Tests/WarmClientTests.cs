using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.Client.Tests;

/// <summary>WarmAsync and RefreshAsync against a scripted handler: the body the API reads, the answer read back, refusals typed.</summary>
public sealed class WarmClientTests
{
    private static EdgeCacheClient Client(FakeApi api)
    {
        var services = new ServiceCollection();
        services.AddEdgeCacheClient(o =>
        {
            o.BaseAddress = new Uri("http://purge.test/api");
            o.ApiKey = "publisher-secret-key-123";
            o.RetryDelay = TimeSpan.Zero;
        }).ConfigurePrimaryHttpMessageHandler(() => api);
        return services.BuildServiceProvider().GetRequiredService<EdgeCacheClient>();
    }

    [Fact]
    public async Task Warm_sends_the_urls_and_edges_and_reads_each_outcome()
    {
        var api = new FakeApi(FakeApi.Json(HttpStatusCode.OK, """
            {"warmed":1,"failed":1,"results":[
              {"url":"http://www.example.com/a","outcome":"warmed","status":200,"cache":"stored","via":"1.1 shield-a, 1.1 edge-1","edges":[{"node":"edge-1","outcome":"warmed","status":200},{"node":"edge-2","outcome":"failed","status":502,"reason":"x"}]},
              {"url":"http://www.example.com/b","outcome":"failed","status":404,"reason":"the shield did not store it"}]}
            """));

        var result = await Client(api).WarmAsync([new Uri("http://www.example.com/a"), new Uri("http://www.example.com/b")], new WarmOptions { Edges = true });

        var (_, auth, body, uri) = api.Requests.Single();
        Assert.Equal("http://purge.test/api/warm", uri.ToString());
        Assert.Equal("Bearer publisher-secret-key-123", auth);
        Assert.Equal("{\"urls\":[\"http://www.example.com/a\",\"http://www.example.com/b\"],\"edges\":true}", JsonSerializer.Serialize(JsonDocument.Parse(body).RootElement));
        Assert.False(result.AllWarmed);
        Assert.Null(result.Purge);
        Assert.Equal(new WarmedUrl(new Uri("http://www.example.com/b"), false, 404, null, "the shield did not store it"), result.Urls[1] with { Edges = [] });
        Assert.True(result.Urls[0].Warmed);
        Assert.Equal("stored", result.Urls[0].Cache);
        Assert.Equal([new EdgeWarmOutcome("edge-1", true, 200, null), new EdgeWarmOutcome("edge-2", false, 502, "x")], result.Urls[0].Edges);
    }

    [Fact]
    public async Task Refresh_waits_by_default_and_reads_its_purge()
    {
        var api = new FakeApi(FakeApi.Json(HttpStatusCode.OK, """
            {"warmed":1,"failed":0,"results":[{"url":"http://www.example.com/a","outcome":"warmed","status":200,"cache":"stored"}],
             "purge":{"id":"r1","sequence":12,"complete":true,"acked":[{"node":"edge-1","ms":3.5}],"missing":[]}}
            """));

        var result = await Client(api).RefreshAsync([new Uri("http://www.example.com/a")], new RefreshOptions { WaitTimeout = TimeSpan.FromSeconds(3) });

        Assert.Equal("{\"urls\":[\"http://www.example.com/a\"],\"refresh\":true,\"wait\":true,\"timeoutMs\":3000}", JsonSerializer.Serialize(JsonDocument.Parse(api.Requests.Single().Body).RootElement));
        Assert.True(result.AllWarmed);
        Assert.Equal(("r1", 12UL, true, true), (result.Purge!.Id, result.Purge.Sequence, result.Purge.Waited, result.Purge.Complete));
        Assert.Equal([new NodeAck("edge-1", TimeSpan.FromMilliseconds(3.5))], result.Purge.Acked);
    }

    [Theory]
    [InlineData(HttpStatusCode.Forbidden, typeof(EdgeCacheForbiddenException))]
    [InlineData(HttpStatusCode.RequestEntityTooLarge, typeof(EdgeCachePayloadTooLargeException))]
    [InlineData(HttpStatusCode.TooManyRequests, typeof(EdgeCacheRateLimitedException))]
    public async Task Refusals_are_typed_and_only_a_429_is_retried(HttpStatusCode status, Type expected)
    {
        var api = new FakeApi(FakeApi.Problem(status, "Refused", retryAfter: "0"));

        var ex = await Assert.ThrowsAnyAsync<EdgeCacheApiException>(() => Client(api).WarmAsync([new Uri("http://www.example.com/a")]));

        Assert.IsType(expected, ex);
        Assert.Equal("Refused", ex.Problem?.Title);
        // A 429 is retried after its Retry-After (MaxRetries, 3 by default), as for purges; a refusal is final.
        Assert.Equal(status == HttpStatusCode.TooManyRequests ? 4 : 1, api.Requests.Count);
    }

    [Fact]
    public async Task Relative_urls_and_an_empty_list_are_refused_before_anything_is_sent()
    {
        var api = new FakeApi(FakeApi.Json(HttpStatusCode.OK, "{}"));

        await Assert.ThrowsAsync<ArgumentException>(() => Client(api).WarmAsync([new Uri("/a", UriKind.Relative)]));
        await Assert.ThrowsAsync<ArgumentException>(() => Client(api).RefreshAsync([]));
        Assert.Empty(api.Requests);
    }
}
