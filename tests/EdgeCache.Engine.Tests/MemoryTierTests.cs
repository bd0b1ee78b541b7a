using Microsoft.AspNetCore.Http;
using static EdgeCache.Engine.Tests.TestData;

namespace EdgeCache.Engine.Tests;

public class MemoryTierTests
{
    private const long MiB = 1024 * 1024;

    private static CachedResponse Entry(int bodyBytes, HeaderDictionary? request = null, string? vary = null)
    {
        var headers = Headers(("Date", Http(T0)), ("Cache-Control", "max-age=60"));
        if (vary is not null) ((IHeaderDictionary)headers).Append("Vary", vary);
        return Stored(headers, request, new byte[bodyBytes]);
    }

    [Fact]
    public void Working_set_ten_times_the_budget_stays_within_budget_at_every_step()
    {
        var tier = new MemoryTier(MiB, MiB);
        var size = MemoryTier.EntryBytes("https://example.com/0000", Entry(10 * 1024));
        var capacity = MiB / size;
        const int Writes = 1024; // 10 MiB of 10 KiB bodies

        for (var i = 0; i < Writes; i++)
        {
            Assert.True(tier.Set($"https://example.com/{i:D4}", Entry(10 * 1024)));
            Assert.InRange(tier.Bytes, 0, tier.BudgetBytes);
            Assert.Equal(Math.Max(0, i + 1 - capacity), tier.Evictions);
        }

        Assert.Equal(MiB, tier.BudgetBytes);
        Assert.Equal(capacity, tier.Count);
        Assert.Equal(capacity * size, tier.Bytes);
        Assert.Equal(Writes - capacity, tier.Evictions);
        Assert.NotNull(tier.Get($"https://example.com/{Writes - 1:D4}", Headers(), out _));
        Assert.Null(tier.Get("https://example.com/0000", Headers(), out var urlKnown));
        Assert.False(urlKnown);
    }

    [Fact]
    public void Object_larger_than_MaxObjectBytes_is_refused()
    {
        var tier = new MemoryTier(MiB, 64 * 1024);

        Assert.False(tier.Set("big", Entry(64 * 1024)));
        Assert.Equal(0, tier.Count);
        Assert.Equal(0, tier.Bytes);
        Assert.Null(tier.Get("big", Headers(), out var urlKnown));
        Assert.False(urlKnown);

        var small = Entry(32 * 1024);
        Assert.True(tier.Set("small", small));
        Assert.Equal(MemoryTier.EntryBytes("small", small), tier.Bytes);
    }

    [Fact]
    public void MaxObjectBytes_never_exceeds_the_budget()
    {
        var tier = new MemoryTier(1000, 5000);

        Assert.Equal(1000, tier.MaxObjectBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MemoryTier(0, 10));
    }

    [Fact]
    public void Incomplete_body_is_not_stored()
    {
        var tier = new MemoryTier(MiB, MiB);
        var entry = CachedResponseFactory.Create(200, Headers(("Cache-Control", "max-age=60")), Headers(), new CacheBody(), T0, T0, HeuristicOptions.Default);

        Assert.Throws<ArgumentException>(() => tier.Set("k", entry));
        Assert.Equal(0, tier.Count);
    }

    [Fact]
    public void Rfc9111_4_1_Vary_variants_are_stored_side_by_side()
    {
        var tier = new MemoryTier(MiB, MiB);
        var gzipRequest = Headers(("Accept-Encoding", "gzip"));
        var brRequest = Headers(("Accept-Encoding", "br"));
        var gzip = Entry(100, gzipRequest, "Accept-Encoding");
        var br = Entry(200, brRequest, "Accept-Encoding");

        Assert.True(tier.Set("k", gzip));
        Assert.True(tier.Set("k", br));

        Assert.Equal(1, tier.Count);
        Assert.Equal(MemoryTier.EntryBytes("k", gzip) + MemoryTier.EntryBytes("k", br), tier.Bytes);
        Assert.Same(gzip, tier.Get("k", gzipRequest, out var urlKnown));
        Assert.True(urlKnown);
        Assert.Same(br, tier.Get("k", Headers(("Accept-Encoding", "br;q=1.0")), out _));
        Assert.Null(tier.Get("k", Headers(("Accept-Encoding", "zstd")), out urlKnown));
        Assert.True(urlKnown);
    }

    [Fact]
    public void Rfc9111_4_1_Same_secondary_key_replaces_the_variant()
    {
        var tier = new MemoryTier(MiB, MiB);
        var gzipRequest = Headers(("Accept-Encoding", "gzip"));
        var gzip = Entry(100, gzipRequest, "Accept-Encoding");
        var br = Entry(200, Headers(("Accept-Encoding", "br")), "Accept-Encoding");
        var gzipNew = Entry(300, Headers(("Accept-Encoding", "GZIP;q=0.9")), "Accept-Encoding");
        tier.Set("k", gzip);
        tier.Set("k", br);

        Assert.True(tier.Set("k", gzipNew));

        Assert.Same(gzipNew, tier.Get("k", gzipRequest, out _));
        Assert.Equal(MemoryTier.EntryBytes("k", gzipNew) + MemoryTier.EntryBytes("k", br), tier.Bytes);
        Assert.Equal(1, tier.Count);
    }

    [Fact]
    public void Same_key_without_Vary_replaces_the_response()
    {
        var tier = new MemoryTier(MiB, MiB);
        var first = Entry(100);
        var second = Entry(500);
        tier.Set("k", first);

        tier.Set("k", second);

        Assert.Same(second, tier.Get("k", Headers(), out _));
        Assert.Equal(MemoryTier.EntryBytes("k", second), tier.Bytes);
    }

    [Fact]
    public void Remove_removes_every_variant_and_returns_the_count()
    {
        var tier = new MemoryTier(MiB, MiB);
        tier.Set("k", Entry(100, Headers(("Accept-Language", "en")), "Accept-Language"));
        tier.Set("k", Entry(100, Headers(("Accept-Language", "de")), "Accept-Language"));
        tier.Set("k", Entry(100, Headers(("Accept-Language", "fr")), "Accept-Language"));
        var other = Entry(100);
        tier.Set("other", other);

        Assert.Equal(3, tier.Remove("k"));

        Assert.Equal(1, tier.Count);
        Assert.Equal(MemoryTier.EntryBytes("other", other), tier.Bytes);
        Assert.Null(tier.Get("k", Headers(("Accept-Language", "en")), out var urlKnown));
        Assert.False(urlKnown);
        Assert.Equal(0, tier.Remove("k"));
        Assert.Equal(0, tier.Remove("never-stored"));
    }

    [Fact]
    public void Key_can_be_stored_again_after_Remove()
    {
        var tier = new MemoryTier(MiB, MiB);
        tier.Set("k", Entry(100));
        tier.Remove("k");
        var again = Entry(100);

        Assert.True(tier.Set("k", again));

        Assert.Same(again, tier.Get("k", Headers(), out _));
        Assert.Equal(MemoryTier.EntryBytes("k", again), tier.Bytes);
    }

    [Fact]
    public void Hit_returns_the_stored_instance_and_body_without_copying()
    {
        var tier = new MemoryTier(MiB, MiB);
        var entry = Entry(4096);
        Assert.True(entry.Body.TryGetSingleSegment(out var storedBytes));
        tier.Set("k", entry);

        var hit1 = tier.Get("k", Headers(), out _);
        var hit2 = tier.Get("k", Headers(), out _);

        Assert.Same(entry, hit1);
        Assert.Same(entry.Body, hit1!.Body);
        Assert.Same(entry.Body, hit2!.Body);
        Assert.True(hit1.Body.TryGetSingleSegment(out var hitBytes));
        Assert.True(hitBytes.Span == storedBytes.Span, "a hit must expose the very bytes that were stored");
    }

    [Fact]
    public void CLOCK_recently_read_entries_survive_eviction_and_unread_ones_go()
    {
        var size = MemoryTier.EntryBytes("k0", Entry(1000));
        var tier = new MemoryTier(10 * size, 10 * size);
        for (var i = 0; i < 10; i++) tier.Set($"k{i}", Entry(1000));

        // One more entry makes the hand sweep once, clearing every reference bit; k0 goes.
        tier.Set("x0", Entry(1000));
        Assert.Equal(1, tier.Evictions);
        Assert.Null(tier.Get("k0", Headers(), out _));

        // Read k1..k5; k6..k9 stay unread.
        for (var i = 1; i <= 5; i++) Assert.NotNull(tier.Get($"k{i}", Headers(), out _));

        for (var i = 1; i <= 4; i++)
        {
            tier.Set($"x{i}", Entry(1000));
            Assert.InRange(tier.Bytes, 0, tier.BudgetBytes);
        }

        Assert.Equal(5, tier.Evictions);
        Assert.Equal(10, tier.Count);
        for (var i = 6; i <= 9; i++) Assert.Null(tier.Get($"k{i}", Headers(), out _));
        for (var i = 1; i <= 5; i++) Assert.NotNull(tier.Get($"k{i}", Headers(), out _));
        for (var i = 0; i <= 4; i++) Assert.NotNull(tier.Get($"x{i}", Headers(), out _));
    }

    [Fact]
    public void CLOCK_without_reads_evicts_oldest_first()
    {
        var size = MemoryTier.EntryBytes("k00", Entry(1000));
        var tier = new MemoryTier(10 * size, 10 * size);
        for (var i = 0; i < 15; i++) tier.Set($"k{i:D2}", Entry(1000));

        Assert.Equal(5, tier.Evictions);
        for (var i = 0; i < 5; i++) Assert.Null(tier.Get($"k{i:D2}", Headers(), out _));
        for (var i = 5; i < 15; i++) Assert.NotNull(tier.Get($"k{i:D2}", Headers(), out _));
    }

    [Fact]
    public void Update_replaces_or_removes_matching_entries_and_keeps_bytes_exact()
    {
        var tier = new MemoryTier(MiB, MiB);
        var keep = Entry(100);
        tier.Set("https://a.example/1", Entry(100));
        tier.Set("https://a.example/2", Entry(100));
        tier.Set("https://b.example/1", keep);

        var changed = tier.Update(k => k.StartsWith("https://a.example/", StringComparison.Ordinal), _ => null);

        Assert.Equal(2, changed);
        Assert.Equal(1, tier.Count);
        Assert.Equal(MemoryTier.EntryBytes("https://b.example/1", keep), tier.Bytes);
        Assert.Same(keep, tier.Get("https://b.example/1", Headers(), out _));
    }
}
