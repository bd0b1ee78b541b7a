using Microsoft.AspNetCore.Http;
using static EdgeCache.Engine.Tests.TestData;

namespace EdgeCache.Engine.Tests;

/// <summary>Hit counting for the background re-encode (<see cref="HotTrigger"/>) and the memory tier's
/// compare-and-replace that stores its result (<see cref="MemoryTier.Replace"/>).</summary>
public sealed class HotTriggerTests
{
    private sealed class Counting(int threshold) : HotTrigger(threshold)
    {
        public int Fired;

        protected override void OnHot() => Fired++;
    }

    [Fact]
    public void Fires_once_on_the_hit_that_reaches_the_threshold_and_again_only_after_a_rearm()
    {
        var t = new Counting(3);
        t.Hit();
        t.Hit();
        Assert.Equal(0, t.Fired);
        t.Hit();
        Assert.Equal(1, t.Fired);
        for (var i = 0; i < 10; i++) t.Hit();
        Assert.Equal(1, t.Fired);
        t.Rearm();
        Assert.Equal(0, t.Hits);
        t.Hit();
        t.Hit();
        t.Hit();
        Assert.Equal(2, t.Fired);
    }

    [Fact]
    public void Fires_once_when_many_threads_hit_at_once()
    {
        var t = new Counting(1000);
        Parallel.For(0, 8000, _ => t.Hit());
        Assert.Equal(1, t.Fired);
    }

    [Fact]
    public void A_copy_counts_its_hits_through_its_trigger_and_one_without_does_nothing()
    {
        var entry = Stored(Headers(("Cache-Control", "max-age=60")));
        entry.CountHit();
        var t = new Counting(2);
        entry.Hot = t;
        entry.CountHit();
        entry.CountHit();
        Assert.Equal(1, t.Fired);
    }

    private static CachedResponse Variant(string coding, int bytes)
    {
        var request = new HeaderDictionary { ["Accept-Encoding"] = coding };
        return Stored(Headers(("Cache-Control", "max-age=60"), ("Vary", "Accept-Encoding")), request, new byte[bytes]);
    }

    [Fact]
    public void Replace_swaps_only_the_very_copy_read_and_keeps_the_budget_right()
    {
        const string Key = "http://example.com/a";
        var tier = new MemoryTier(1024 * 1024, 1024 * 1024);
        var identity = Variant("identity", 1000);
        var fast = Variant("br", 400);
        tier.Set(Key, identity);
        tier.Set(Key, fast);
        var remade = Variant("br", 300);
        Assert.True(tier.Holds(Key, fast));
        Assert.True(tier.Replace(Key, fast, remade));
        Assert.False(tier.Holds(Key, fast));
        Assert.Same(remade, tier.Get(Key, new HeaderDictionary { ["Accept-Encoding"] = "br" }, out _));
        Assert.Same(identity, tier.Get(Key, new HeaderDictionary { ["Accept-Encoding"] = "identity" }, out _));
        Assert.Equal(MemoryTier.EntryBytes(Key, identity) + MemoryTier.EntryBytes(Key, remade), tier.Bytes);

        // The copy read is gone: stored anew, or the URL removed.
        Assert.False(tier.Replace(Key, fast, Variant("br", 200)));
        Assert.Same(remade, tier.Get(Key, new HeaderDictionary { ["Accept-Encoding"] = "br" }, out _));
        tier.Remove(Key);
        Assert.False(tier.Replace(Key, remade, Variant("br", 200)));
        Assert.False(tier.Contains(Key));
        Assert.Equal(0, tier.Bytes);
    }
}
