using EdgeCache.Client;
using EdgeCache.FunctionalTests.Infrastructure;
using EdgeCache.Nats;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeCache.FunctionalTests;

/// <summary>The publishers' client (clients/EdgeCache.Client) against the real purge API, a real
/// nats-server and the four nodes of the invalidation topology: nothing is mocked.</summary>
[Collection(InvalidationFixtureGroup.Name)]
public sealed class ClientTests(InvalidationTopology cdn)
{
    private EdgeCacheClient Client(string key = InvalidationTopology.AllKey, int maxRetries = 3)
    {
        var services = new ServiceCollection();
        services.AddEdgeCacheClient(o =>
        {
            o.BaseAddress = cdn.ApiUri;
            o.ApiKey = key;
            o.MaxRetries = maxRetries;
        });
        return services.BuildServiceProvider().GetRequiredService<EdgeCacheClient>();
    }

    private Task<ulong> LastSequenceAsync() => cdn.Api.Services.GetRequiredService<InvalidationBus>().StreamStateAsync(CancellationToken.None).ContinueWith(t => t.Result.Last, TaskScheduler.Default);

    [Fact]
    public async Task A_purge_with_wait_is_applied_by_every_node_and_can_be_read_back()
    {
        var client = Client();

        var result = await client.PurgeAsync(PurgeSelector.ForTags("client-test"), new PurgeOptions { Wait = true, WaitTimeout = TimeSpan.FromSeconds(10) });

        Assert.True(result.Complete, string.Join(",", result.Missing));
        Assert.True(result.Waited);
        Assert.Equal(["edge-1", "edge-2", "shield-a", "shield-b"], result.Acked.Select(a => a.Node));
        Assert.All(result.Acked, a => Assert.True(a.Elapsed > TimeSpan.Zero));
        Assert.Empty(result.Missing);
        Assert.Equal(result.Sequence, await LastSequenceAsync());

        var later = await client.GetPurgeAsync(result.Id);
        Assert.Equal((result.Id, result.Sequence, true), (later.Id, later.Sequence, later.Complete));
    }

    [Fact]
    public async Task A_ttl_change_and_a_soft_purge_of_everything_are_accepted()
    {
        var client = Client();

        var ttl = await client.SetTtlAsync(PurgeSelector.ForPrefixes("http://www.example.com/client-ttl/"), TimeSpan.FromSeconds(30), new EdgeCacheCallOptions { Wait = true, WaitTimeout = TimeSpan.FromSeconds(10) });
        var soft = await client.PurgeAsync(PurgeSelector.Everything, new PurgeOptions { Soft = true });

        Assert.True(ttl.Complete);
        Assert.False(soft.Waited);
        Assert.Equal(ttl.Sequence + 1, soft.Sequence);
    }

    [Fact]
    public async Task The_same_idempotency_key_twice_is_one_event_and_another_request_with_it_is_refused()
    {
        var client = Client();
        var call = new PurgeOptions { IdempotencyKey = "client-job-" + Guid.NewGuid().ToString("N") };

        var first = await client.PurgeAsync(PurgeSelector.ForUrls("http://www.example.com/client-idem"), call);
        var second = await client.PurgeAsync(PurgeSelector.ForUrls("http://www.example.com/client-idem"), call);

        Assert.False(first.Replayed);
        Assert.True(second.Replayed);
        Assert.Equal((first.Id, first.Sequence), (second.Id, second.Sequence));
        Assert.Equal(first.Sequence, await LastSequenceAsync());

        var ex = await Assert.ThrowsAsync<EdgeCacheIdempotencyKeyReusedException>(() => client.PurgeAsync(PurgeSelector.ForUrls("http://www.example.com/other"), call));
        Assert.Equal(422, ex.Problem!.Status);
        Assert.Equal(first.Sequence, await LastSequenceAsync());
    }

    [Fact]
    public async Task A_wrong_key_is_an_unauthorized_exception_without_the_key_in_it()
    {
        var ex = await Assert.ThrowsAsync<EdgeCacheUnauthorizedException>(() => Client("client-test-wrong-key").PurgeAsync(PurgeSelector.ForTags("a")));

        Assert.Equal("Unauthorized", ex.Problem!.Title);
        Assert.DoesNotContain("client-test-wrong-key", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_outside_the_keys_scope_is_a_forbidden_exception_naming_the_host()
    {
        var ex = await Assert.ThrowsAsync<EdgeCacheForbiddenException>(() => Client(InvalidationTopology.SiteKey).PurgeAsync(PurgeSelector.ForHosts("img.example.com")));

        Assert.Equal("Host not allowed", ex.Problem!.Title);
        Assert.Contains("img.example.com", ex.Problem.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_over_MaxBodyBytes_is_a_payload_too_large_exception()
    {
        var urls = Enumerable.Range(0, 10).Select(i => "http://www.example.com/" + new string('x', 500) + i);

        var ex = await Assert.ThrowsAsync<EdgeCachePayloadTooLargeException>(() => Client().PurgeAsync(PurgeSelector.ForUrls(urls)));

        Assert.Equal("Body too large", ex.Problem!.Title);
    }

    [Fact]
    public async Task A_key_over_its_rate_is_a_rate_limited_exception_with_retry_after()
    {
        // The limited key: bursts of 3, 1 per second; without retries the client reports the 429.
        var client = Client(InvalidationTopology.LimitedKey, maxRetries: 0);
        EdgeCacheRateLimitedException? limited = null;
        for (var i = 0; i < 20 && limited is null; i++)
        {
            try
            {
                await client.PurgeAsync(PurgeSelector.ForHosts("img.example.com"), new PurgeOptions { Soft = true });
            }
            catch (EdgeCacheRateLimitedException ex)
            {
                limited = ex;
            }
        }

        Assert.NotNull(limited);
        Assert.Equal(TimeSpan.FromSeconds(1), limited.RetryAfter);
        Assert.Equal("Too many requests", limited.Problem!.Title);
    }

    [Fact]
    public async Task With_retries_a_key_over_its_rate_waits_out_retry_after_and_succeeds()
    {
        var client = Client(InvalidationTopology.LimitedKey, maxRetries: 5);
        var sequences = new List<ulong>();
        for (var i = 0; i < 6; i++) sequences.Add((await client.PurgeAsync(PurgeSelector.ForHosts("img.example.com"), new PurgeOptions { Soft = true })).Sequence);

        // Every call became exactly one event, retried 429s included.
        Assert.Equal(6, sequences.Distinct().Count());
    }
}
