using EdgeCache.Client.Internal;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EdgeCache.Client.Tests;

/// <summary>The HybridCache backplane without I/O: how events map to HybridCache calls, how the loop
/// resumes from its cursor, and the lease, on a fake feed and a fake clock.</summary>
public sealed class BackplaneTests
{
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.Parse("2026-12-02T06:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly RecordingHybridCache _cache = new();
    private readonly EdgeCacheInvalidationOptions _options = new() { InstanceId = "unit", PollTimeout = TimeSpan.FromSeconds(1), Lease = TimeSpan.FromSeconds(3) };

    private (InvalidationFeedService Service, BackplaneState State) Backplane(FakeFeed feed)
    {
        var options = Options.Create(_options);
        var state = new BackplaneState(options, _clock);
        var service = new InvalidationFeedService(feed, new EventApplier(_cache, options), state, new BackplaneMetrics(state, null), options, NullLogger<InvalidationFeedService>.Instance);
        return (service, state);
    }

    private Task<bool> ApplyAsync(FeedEvent e) => new EventApplier(_cache, Options.Create(_options)).ApplyAsync(e, CancellationToken.None);

    [Fact]
    public async Task Tags_are_removed_by_tag()
    {
        await ApplyAsync(FakeFeed.Tags(1, "product-42", "catalogue"));

        Assert.Equal(["product-42", "catalogue"], _cache.RemovedTags);
        Assert.Empty(_cache.RemovedKeys);
    }

    public static TheoryData<string> Broad => ["hosts", "prefixes", "all"];

    [Theory]
    [MemberData(nameof(Broad))]
    public async Task Hosts_prefixes_and_everything_remove_the_wildcard_tag(string selector)
    {
        await ApplyAsync(selector switch
        {
            "hosts" => new FeedEvent { Sequence = 1, Hosts = ["www.example.com"], Tags = ["also"] },
            "prefixes" => new FeedEvent { Sequence = 1, Prefixes = ["https://www.example.com/products/"] },
            _ => new FeedEvent { Sequence = 1, All = true },
        });

        Assert.Equal(["*"], _cache.RemovedTags);
    }

    [Fact]
    public async Task A_url_removes_its_url_tag_and_the_keys_the_app_maps_it_to()
    {
        _options.KeysForUrl = u => ["page:" + u.AbsolutePath, "page-json:" + u.AbsolutePath];

        await ApplyAsync(new FeedEvent { Sequence = 1, Urls = ["HTTPS://WWW.Example.com/products/42?color=red"] });

        Assert.Equal(["url:https://www.example.com/products/42?color=red"], _cache.RemovedTags);
        Assert.Equal(["page:/products/42", "page-json:/products/42"], _cache.RemovedKeys);
    }

    [Fact]
    public async Task Ttl_changes_and_soft_purges_are_removals()
    {
        await ApplyAsync(new FeedEvent { Sequence = 1, Kind = "ttl", MaxAge = 60, Tags = ["a"] });
        await ApplyAsync(new FeedEvent { Sequence = 2, Soft = true, Tags = ["b"] });

        Assert.Equal(["a", "b"], _cache.RemovedTags);
    }

    [Fact]
    public void The_url_tag_is_the_absolute_url_as_Uri_writes_it()
    {
        Assert.Equal("url:https://www.example.com/A%20b", EdgeCacheInvalidation.UrlTag("HTTPS://www.EXAMPLE.com/A b"));
        Assert.Equal(EdgeCacheInvalidation.UrlTag("http://www.example.com:80/x"), EdgeCacheInvalidation.UrlTag("http://www.example.com/x"));
    }

    [Fact]
    public async Task The_first_poll_starts_where_the_feed_is_and_each_next_one_resumes_from_the_last_applied_sequence()
    {
        var feed = new FakeFeed(
            _ => new FeedPage { Last = 10 },
            _ => new FeedPage { Last = 12, Events = [FakeFeed.Tags(11, "a"), FakeFeed.Tags(12, "b")] },
            _ => throw new HttpRequestException("connection refused"),
            _ => new FeedPage { Last = 20 });
        var (service, state) = Backplane(feed);

        await service.PollOnceAsync(CancellationToken.None);
        await service.PollOnceAsync(CancellationToken.None);
        await Assert.ThrowsAsync<HttpRequestException>(() => service.PollOnceAsync(CancellationToken.None));
        await service.PollOnceAsync(CancellationToken.None);

        Assert.Equal([null, 10UL, 12UL, 12UL], feed.Polls);
        Assert.Equal(["a", "b"], _cache.RemovedTags);
        Assert.Equal(20UL, state.Cursor);
    }

    [Fact]
    public async Task An_event_that_fails_to_apply_is_polled_for_again_and_the_ones_before_it_are_not()
    {
        var feed = new FakeFeed(
            _ => new FeedPage { Last = 10 },
            _ => new FeedPage { Last = 13, Events = [FakeFeed.Tags(11, "a"), FakeFeed.Tags(12, "boom"), FakeFeed.Tags(13, "c")] },
            _ => new FeedPage { Last = 13, Events = [FakeFeed.Tags(12, "b"), FakeFeed.Tags(13, "c")] });
        var (service, state) = Backplane(feed);
        await service.PollOnceAsync(CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(5)); // the lease ran out meanwhile

        await Assert.ThrowsAsync<InvalidOperationException>(() => service.PollOnceAsync(CancellationToken.None));

        Assert.Equal(11UL, state.Cursor);
        Assert.False(state.IsConfirmed); // a failed apply confirms nothing
        await service.PollOnceAsync(CancellationToken.None);
        Assert.Equal([null, 10UL, 11UL], feed.Polls);
        Assert.Equal(["a", "b", "c"], _cache.RemovedTags);
        Assert.True(state.IsConfirmed);
    }

    [Fact]
    public async Task A_reset_removes_everything_and_moves_the_cursor_to_the_feeds_last()
    {
        var feed = new FakeFeed(_ => new FeedPage { Last = 10 }, _ => new FeedPage { Reset = true, Last = 5000 });
        var (service, state) = Backplane(feed);

        await service.PollOnceAsync(CancellationToken.None);
        await service.PollOnceAsync(CancellationToken.None);

        Assert.Equal(["*"], _cache.RemovedTags);
        Assert.Equal(5000UL, state.Cursor);
    }

    [Fact]
    public async Task An_event_at_or_before_the_cursor_is_not_applied_again()
    {
        var feed = new FakeFeed(_ => new FeedPage { Last = 10 }, _ => new FeedPage { Last = 11, Events = [FakeFeed.Tags(9, "old"), FakeFeed.Tags(10, "old"), FakeFeed.Tags(11, "new")] });
        var (service, _) = Backplane(feed);

        await service.PollOnceAsync(CancellationToken.None);
        await service.PollOnceAsync(CancellationToken.None);

        Assert.Equal(["new"], _cache.RemovedTags);
    }

    [Fact]
    public async Task L1_is_trusted_for_the_lease_from_when_the_last_good_poll_was_sent()
    {
        // The poll takes 2 s to answer (a long poll): the lease counts from its sending, not its answer.
        var feed = new FakeFeed(_ =>
        {
            _clock.Advance(TimeSpan.FromSeconds(2));
            return new FeedPage { Last = 10 };
        });
        var (service, state) = Backplane(feed);
        Assert.False(state.IsConfirmed); // before the first poll

        await service.PollOnceAsync(CancellationToken.None);

        Assert.True(state.IsConfirmed);
        _clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.True(state.IsConfirmed);
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(state.IsConfirmed);
    }

    [Fact]
    public async Task The_APIs_shorter_instance_lease_wins_and_polls_last_at_most_half_of_it()
    {
        var feed = new FakeFeed(_ => new FeedPage { Last = 10, InstanceLeaseMs = 1000 });
        var (service, state) = Backplane(feed);

        await service.PollOnceAsync(CancellationToken.None);
        await service.PollOnceAsync(CancellationToken.None);
        _clock.Advance(TimeSpan.FromMilliseconds(999));
        Assert.True(state.IsConfirmed);
        _clock.Advance(TimeSpan.FromMilliseconds(1));

        Assert.False(state.IsConfirmed); // 1 s, not the configured 3 s
        Assert.Equal([TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(500)], feed.Timeouts);
    }

    [Fact]
    public async Task While_unconfirmed_every_call_bypasses_L1_and_keeps_its_other_options()
    {
        var state = new BackplaneState(Options.Create(_options), _clock);
        var defaults = new HybridCacheEntryOptions { Expiration = TimeSpan.FromMinutes(7), Flags = HybridCacheEntryFlags.DisableCompression };
        var guarded = new LeaseGuardedHybridCache(_cache, state, defaults);
        var mine = new HybridCacheEntryOptions { LocalCacheExpiration = TimeSpan.FromMinutes(1) };

        await guarded.GetOrCreateAsync("k", _ => ValueTask.FromResult(1), mine);
        state.Confirm(1, _clock.GetTimestamp());
        await guarded.GetOrCreateAsync("k", _ => ValueTask.FromResult(1), mine);
        _clock.Advance(_options.Lease);
        await guarded.SetAsync("k", 1);

        var (unconfirmed, confirmed, expired) = (_cache.Options[0]!, _cache.Options[1], _cache.Options[2]!);
        Assert.Equal(HybridCacheEntryFlags.DisableLocalCache | HybridCacheEntryFlags.DisableCompression, unconfirmed.Flags);
        Assert.Equal((TimeSpan.FromMinutes(7), TimeSpan.FromMinutes(1)), (unconfirmed.Expiration!.Value, unconfirmed.LocalCacheExpiration!.Value));
        Assert.Same(mine, confirmed);
        Assert.Equal(HybridCacheEntryFlags.DisableLocalCache | HybridCacheEntryFlags.DisableCompression, expired.Flags);
    }

    [Fact]
    public async Task The_real_HybridCache_is_wrapped_and_serves_from_L1_only_while_confirmed()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddEdgeCacheClient(o =>
        {
            o.BaseAddress = new Uri("http://127.0.0.1:1/");
            o.ApiKey = "k";
        });
        services.AddHybridCache().AddEdgeCacheInvalidation(o => o.Lease = TimeSpan.FromSeconds(30));
        await using var sp = services.BuildServiceProvider();
        var cache = sp.GetRequiredService<HybridCache>();
        var reads = 0;
        ValueTask<string> Get() => cache.GetOrCreateAsync("p", _ => ValueTask.FromResult("v" + Interlocked.Increment(ref reads)));

        Assert.Equal(("v1", "v2"), (await Get(), await Get())); // unconfirmed: past L1 both times
        sp.GetRequiredService<BackplaneState>().Confirm(1, _clock.GetTimestamp());
        Assert.Equal(("v3", "v3"), (await Get(), await Get())); // confirmed: filled once, then a hit
        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal("v4", await Get());
        Assert.IsType<LeaseGuardedHybridCache>(cache);
    }

    [Fact]
    public void Settings_are_validated_by_name_and_need_the_purge_client()
    {
        var bad = new EdgeCacheInvalidationOptions { InstanceId = "has space", PollTimeout = TimeSpan.FromSeconds(10), Lease = TimeSpan.FromSeconds(10), RetryDelay = TimeSpan.FromSeconds(2), MaxRetryDelay = TimeSpan.FromSeconds(1) };

        var errors = bad.Validate("Apps:Backplane").ToList();

        Assert.Contains(errors, e => e.StartsWith("Apps:Backplane:InstanceId", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Apps:Backplane:Lease", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Apps:Backplane:MaxRetryDelay", StringComparison.Ordinal));
        Assert.Empty(new EdgeCacheInvalidationOptions().Validate());

        var services = new ServiceCollection();
        services.AddHybridCache().AddEdgeCacheInvalidation();
        using var sp = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IOptions<EdgeCacheInvalidationOptions>>().Value);
        Assert.Contains("AddEdgeCacheClient", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Retries_back_off_by_doubling_up_to_the_maximum()
    {
        var o = new EdgeCacheInvalidationOptions { RetryDelay = TimeSpan.FromSeconds(1), MaxRetryDelay = TimeSpan.FromSeconds(5) };

        Assert.Equal(new[] { 1, 2, 4, 5, 5 }.Select(s => TimeSpan.FromSeconds(s)), Enumerable.Range(1, 5).Select(f => InvalidationFeedService.Backoff(o, f)));
    }
}
