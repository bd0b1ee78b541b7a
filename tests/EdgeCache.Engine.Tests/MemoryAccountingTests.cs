using System.Globalization;
using Microsoft.AspNetCore.Http;
using Xunit.Abstractions;

namespace EdgeCache.Engine.Tests;

/// <summary>Runs alone: it measures the managed heap, which other tests' allocations would disturb.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryAccountingGroup
{
    public const string Name = "memory accounting";
}

/// <summary>
/// What the memory tier charges for an entry against what the entry really holds on the heap. The tier's
/// budget is the operator's bound on memory, so an estimate that undercounts lets a node with many small
/// objects grow far past it: a soak's shields held 256 MiB of "budget" in about twice that.
/// </summary>
[Collection(MemoryAccountingGroup.Name)]
public sealed class MemoryAccountingTests(ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 6, 0, 0, TimeSpan.Zero);

    /// <summary>A stored 1 KiB object as a shield stores what the sample origin sends, strings made per response as a parser makes them.</summary>
    private static (string Key, CachedResponse Response) Entry(int i, int bodyBytes)
    {
        var name = "rss-" + i.ToString(CultureInfo.InvariantCulture);
        var response = new HeaderDictionary
        {
            ["Content-Length"] = bodyBytes.ToString(CultureInfo.InvariantCulture),
            ["Content-Type"] = new string("application/octet-stream".AsSpan()),
            ["Date"] = T0.AddSeconds(i / 1000).ToString("R", CultureInfo.InvariantCulture),
            ["Cache-Control"] = new string("public, max-age=3600".AsSpan()),
            ["ETag"] = $"\"{name}-1k\"",
            ["Surrogate-Key"] = new string("obj size-1k".AsSpan()),
        };
        var body = new CacheBody(bodyBytes);
        body.Append(new byte[bodyBytes]);
        body.Complete();
        var stored = CachedResponseFactory.Create(200, response, new HeaderDictionary(), body, T0, T0, HeuristicOptions.Default);
        return ("http://www.example.com/obj/1k/" + name, stored);
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    [Theory]
    [InlineData(1024)]
    [InlineData(16 * 1024)]
    public void The_tier_charges_each_entry_at_least_nine_tenths_of_what_it_holds_on_the_heap_and_not_much_more(int bodyBytes)
    {
        const int Count = 20_000;
        var tier = new MemoryTier(budgetBytes: long.MaxValue / 4, maxObjectBytes: 64L * 1024 * 1024);
        var before = Heap();
        for (var i = 0; i < Count; i++)
        {
            var (key, response) = Entry(i, bodyBytes);
            Assert.True(tier.Set(key, response));
        }

        var held = Heap() - before;
        GC.KeepAlive(tier);
        var charged = tier.Bytes;
        var ratio = (double)charged / held;
        output.WriteLine($"{bodyBytes} B bodies: charged {charged / Count} B per entry, held {held / Count} B per entry (ratio {ratio:F2})");
        Assert.True(ratio is >= 0.9 and <= 1.3, $"charged {charged / Count} B per entry, held {held / Count} B per entry (ratio {ratio:F2})");
    }
}
