using System.IO.Compression;
using System.Text;
using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using Microsoft.AspNetCore.Http;

namespace EdgeCache.Proxy.Tests;

/// <summary>
/// The background re-encode of hot representations (<see cref="Recompressions"/>) on a real engine and real
/// codecs: a watched copy fires once at its threshold, the re-encode replaces only the very copy it read, keeps
/// its freshness, sequence, tags and variant, gives it another entity-tag, and never stores what a purge covers.
/// </summary>
public sealed class RecompressionsTests
{
    private const string Key = "http://example.com/page";

    private static readonly byte[] Text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 3000).Select(i => $"<li class=\"item\">Item {i * 7919 % 10007}</li>\n")));

    private static (CacheEngine Engine, Invalidation.InvalidationState State) Engine(int queueLength = 4)
    {
        var options = new EdgeCacheOptions { NodeId = "t", Role = NodeRole.Edge };
        options.Recompress.QueueLength = queueLength;
        var state = new Invalidation.InvalidationState(options.Invalidation, TimeProvider.System);
        var engine = new CacheEngine(Microsoft.Extensions.Options.Options.Create(options), CacheClock.System, state,
            Microsoft.Extensions.Logging.Abstractions.NullLogger<CacheEngine>.Instance, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        return (engine, state);
    }

    private static CompressionPolicy Policy(int afterHits = 2) => new() { Enabled = true, RecompressAfterHits = afterHits };

    /// <summary>The br representation at level 5 of an original with ETag "v1", as <see cref="Derivations"/> makes it.</summary>
    private static CachedResponse Fast(ulong storedSeq = 0, string etag = "\"v1\"")
    {
        var now = DateTimeOffset.UtcNow;
        var headers = new HeaderDictionary { ["Cache-Control"] = "max-age=600", ["Content-Type"] = "text/html", ["ETag"] = etag, ["Vary"] = "Accept-Encoding", ["Surrogate-Key"] = "page" };
        var original = CachedResponseFactory.Create(200, headers, new HeaderDictionary { ["Accept-Encoding"] = "identity" }, CacheBody.FromBytes(Text), now, now, HeuristicOptions.Default).WithStoredSeq(storedSeq);
        var body = CacheBody.FromBytes(Encode(Text, 5));
        return Representation.Derive(original, "br", "br", body, 5);
    }

    private static byte[] Encode(byte[] text, int quality)
    {
        var buffer = new byte[BrotliEncoder.GetMaxCompressedLength(text.Length)];
        Assert.True(BrotliEncoder.TryCompress(text, buffer, out var n, quality, 22));
        return buffer[..n];
    }

    private static byte[] Decode(CachedResponse entry)
    {
        using var input = new MemoryStream(entry.Body.ToArrayForTests());
        using var br = new BrotliStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        br.CopyTo(output);
        return output.ToArray();
    }

    private static CachedResponse Current(CacheEngine engine) =>
        engine.Memory.Get(Key, new HeaderDictionary { ["Accept-Encoding"] = "br" }, out _) ?? throw new InvalidOperationException("no br copy");

    [Fact]
    public void A_watched_copy_is_made_again_at_the_high_level_in_its_own_place()
    {
        var (engine, _) = Engine();
        var fast = Fast(storedSeq: 7);
        engine.Recompressions.Watch(Key, fast, "br", 5, Policy());
        Assert.True(engine.Memory.Set(Key, fast));
        var ticket = Assert.IsType<Recompressions.Ticket>(fast.Hot);
        Assert.Equal(11, ticket.Level);

        Assert.Equal(Recompressions.Outcome.Replaced, engine.Recompressions.Run(ticket));

        var remade = Current(engine);
        Assert.NotSame(fast, remade);
        Assert.Equal(Text, Decode(remade));
        Assert.True(remade.Body.Length < fast.Body.Length, $"{remade.Body.Length} re-encoded, {fast.Body.Length} fast");
        Assert.Equal(Encode(Text, 11).Length, remade.Body.Length);
        Assert.Equal("\"v1-br11\"", remade.ETag);
        Assert.Equal("\"v1-br11\"", remade.GetHeader("ETag").ToString());
        Assert.Equal("br", remade.ContentCoding);
        Assert.Equal(fast.StoredSeq, remade.StoredSeq);
        Assert.Equal(fast.Tags, remade.Tags);
        Assert.Equal(fast.VaryValues, remade.VaryValues);
        Assert.Equal(fast.FreshnessLifetime, remade.FreshnessLifetime);
        Assert.Equal(fast.ResponseTime, remade.ResponseTime);
        Assert.Null(remade.Hot);
        Assert.Equal(MemoryTier.EntryBytes(Key, remade), engine.Memory.Bytes);
    }

    [Fact]
    public void A_weak_tag_keeps_its_weakness_and_a_copy_without_one_gets_none()
    {
        var (engine, _) = Engine();
        var weak = Fast(etag: "W/\"v1\"");
        engine.Recompressions.Watch(Key, weak, "br", 5, Policy());
        engine.Memory.Set(Key, weak);
        Assert.Equal(Recompressions.Outcome.Replaced, engine.Recompressions.Run((Recompressions.Ticket)weak.Hot!));
        Assert.Equal("W/\"v1-br11\"", Current(engine).ETag);
    }

    [Fact]
    public void A_copy_purged_or_stored_anew_meanwhile_is_not_replaced()
    {
        var (engine, _) = Engine();
        var fast = Fast();
        engine.Recompressions.Watch(Key, fast, "br", 5, Policy());
        engine.Memory.Set(Key, fast);
        engine.Invalidate(Key);
        Assert.Equal(Recompressions.Outcome.Superseded, engine.Recompressions.Run((Recompressions.Ticket)fast.Hot!));
        Assert.False(engine.Memory.Contains(Key));

        var newer = Fast(etag: "\"v2\"");
        engine.Memory.Set(Key, fast);
        engine.Memory.Set(Key, newer);
        Assert.Equal(Recompressions.Outcome.Superseded, engine.Recompressions.Run((Recompressions.Ticket)fast.Hot!));
        Assert.Same(newer, Current(engine));
        Assert.Equal(2, engine.Recompressions.CountOf("br", Recompressions.Outcome.Superseded));
        Assert.Equal(0, engine.Recompressions.CountOf("br", Recompressions.Outcome.Replaced));
    }

    [Fact]
    public void A_purge_recorded_while_the_copy_was_re_encoded_wins()
    {
        var (engine, state) = Engine();
        var fast = Fast(storedSeq: 3);
        engine.Recompressions.Watch(Key, fast, "br", 5, Policy());
        engine.Memory.Set(Key, fast);

        // Recorded, not yet dropped from the tiers (the purge is being applied): the result must not be stored.
        state.Rules.PurgeAll(10);
        Assert.Equal(Recompressions.Outcome.Superseded, engine.Recompressions.Run((Recompressions.Ticket)fast.Hot!));
        Assert.DoesNotContain(engine.Memory.Variants(Key), v => v.ETag == "\"v1-br11\"");
    }

    [Fact]
    public void The_hit_that_makes_a_copy_hot_queues_it_once_and_a_worker_replaces_it()
    {
        var (engine, _) = Engine();
        var fast = Fast();
        engine.Recompressions.Watch(Key, fast, "br", 5, Policy(afterHits: 3));
        engine.Memory.Set(Key, fast);
        fast.CountHit();
        fast.CountHit();
        Assert.Equal(0, engine.Recompressions.Pending);
        Assert.Same(fast, Current(engine));

        fast.CountHit();
        fast.CountHit();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (engine.Recompressions.CountOf("br", Recompressions.Outcome.Replaced) == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the worker replaced the copy in time");
            Thread.Sleep(10);
        }

        Assert.Equal("\"v1-br11\"", Current(engine).ETag);
        Assert.Equal(1, engine.Recompressions.CountOf("br", Recompressions.Outcome.Replaced));
    }

    [Fact]
    public void Nothing_is_watched_when_re_encoding_is_off_or_the_high_level_is_not_higher()
    {
        var (engine, _) = Engine();
        var fast = Fast();
        engine.Recompressions.Watch(Key, fast, "br", 5, Policy(afterHits: 0));
        Assert.Null(fast.Hot);
        engine.Recompressions.Watch(Key, fast, "br", 11, Policy());
        Assert.Null(fast.Hot);
        engine.Recompressions.Watch(Key, fast, "gzip", 9, Policy());
        Assert.Null(fast.Hot);
        fast.CountHit();
    }

    /// <summary>A br copy as an edge stores it from its shield's response: <paramref name="encoded"/> is the shield's
    /// <c>EdgeCache-Encoded</c> (null: none, an origin's own coding).</summary>
    private static CachedResponse Fetched(string? encoded, string etag = "\"v1-br\"", int quality = 5)
    {
        var now = DateTimeOffset.UtcNow;
        var headers = new HeaderDictionary { ["Cache-Control"] = "max-age=600", ["Content-Type"] = "text/html", ["Content-Encoding"] = "br", ["ETag"] = etag, ["Vary"] = "Accept-Encoding", ["Surrogate-Key"] = "page" };
        if (encoded is not null) headers[HeaderRules.Encoded] = encoded;
        return CachedResponseFactory.Create(200, headers, new HeaderDictionary { ["Accept-Encoding"] = "br" }, CacheBody.FromBytes(Encode(Text, quality)), now, now, HeuristicOptions.Default).WithStoredSeq(3);
    }

    [Fact]
    public void A_copy_the_shield_made_fast_is_watched_where_it_is_stored_and_made_again_with_the_shields_tag()
    {
        // What a shield's derivation marks is what an edge's reading accepts.
        Assert.True(Representation.IsMadeFast(Fast(), out var coding, out var level));
        Assert.Equal(("br", 5), (coding, level));

        var (engine, _) = Engine();
        var fetched = Fetched("br; level=5");
        engine.Recompressions.WatchFetched(Key, fetched, Policy());
        Assert.True(engine.Memory.Set(Key, fetched));
        var ticket = Assert.IsType<Recompressions.Ticket>(fetched.Hot);
        Assert.Equal(("br", 11), (ticket.Coding, ticket.Level));

        Assert.Equal(Recompressions.Outcome.Replaced, engine.Recompressions.Run(ticket));
        var remade = Current(engine);
        Assert.Equal(Text, Decode(remade));
        Assert.Equal(Encode(Text, 11).Length, remade.Body.Length);
        Assert.Equal("\"v1-br11\"", remade.ETag);
        Assert.Equal(["page"], remade.Tags);
        Assert.Equal(3ul, remade.StoredSeq);
        Assert.Equal("br; level=11", remade.GetHeader(HeaderRules.Encoded).ToString());

        // Fetched again by another tier, the re-encoded copy is not made again.
        Assert.False(Representation.IsMadeFast(remade, out _, out _));
    }

    [Theory]
    [InlineData(null, "\"v1-br\"")] // an origin's own br (an entity-tag like a derived one, as Apache's mod_deflate makes them)
    [InlineData("br; level=11", "\"v1-br\"")] // made at the high level already
    [InlineData("br; level=5", "\"v1-br11\"")] // a tag that is not a first copy's
    [InlineData("gzip; level=6", "\"v1-br\"")] // another coding than the copy's
    [InlineData("br; quality=5", "\"v1-br\"")]
    [InlineData("br; level=-5", "\"v1-br\"")]
    public void A_fetched_copy_is_not_watched_unless_an_EdgeCache_tier_made_it_fast_in_its_own_coding(string? encoded, string etag)
    {
        var (engine, _) = Engine();
        var fetched = Fetched(encoded, etag);
        engine.Recompressions.WatchFetched(Key, fetched, Policy());
        Assert.Null(fetched.Hot);
    }

    [Fact]
    public void Settings_out_of_range_are_refused_naming_the_setting()
    {
        Assert.Contains("RecompressAfterHits", new CompressionPolicy { RecompressAfterHits = -1 }.Validate());
        Assert.Contains("RecompressBrotliLevel must be 0-11", new CompressionPolicy { RecompressBrotliLevel = 12 }.Validate());
        Assert.Contains("RecompressZstdLevel must be 1-22", new CompressionPolicy { RecompressZstdLevel = 0 }.Validate());
        Assert.Contains("RecompressGzipLevel must be 1-9", new CompressionPolicy { RecompressGzipLevel = 10 }.Validate());
        Assert.Null(new CompressionPolicy().Validate());
        Assert.Contains("Concurrency must be 1-64", new RecompressOptions { Concurrency = 0 }.Validate());
        Assert.Contains("QueueLength must be 1-100000", new RecompressOptions { QueueLength = 0 }.Validate());
        var options = new EdgeCacheOptions { NodeId = "t", Listen = { Traffic = ["http://127.0.0.1:0"] } };
        options.Recompress.QueueLength = 0;
        var result = new EdgeCacheOptionsValidator { CheckCertificateFiles = false }.Validate(null, options);
        Assert.Contains("EdgeCache:Recompress: QueueLength", result.FailureMessage, StringComparison.Ordinal);
    }
}
