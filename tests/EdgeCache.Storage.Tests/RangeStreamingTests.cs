namespace EdgeCache.Storage.Tests;

/// <summary>
/// A hit larger than the caller wants complete streams from disk: its first bytes can be sent before
/// its last chunk is read, and any byte range comes out right across chunk (and body segment) boundaries.
/// </summary>
public sealed class RangeStreamingTests : IDisposable
{
    // Not a divisor of the body's 64 KiB segments, so chunk and segment boundaries fall apart.
    private const int Chunk = 40_000;

    private readonly string _dir = Stores.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private DiskStoreOptions Options(long budget = 64L * 1024 * 1024)
    {
        var options = Stores.Small(_dir, budget);
        options.ChunkBytes = Chunk;
        return options;
    }

    [Fact]
    public async Task A_hit_over_the_complete_limit_streams_and_its_first_bytes_come_before_the_last_chunk_is_read()
    {
        var body = Stores.Bytes(40 * Chunk + 123, seed: 51);
        await using var store = Stores.Open(Options());
        await store.PutAsync("http://a/big", Stores.Response(body), CancellationToken.None);

        var hit = await store.GetAsync("http://a/big", Stores.NoHeaders, completeUpToBytes: body.Length - 1, CancellationToken.None);
        Assert.NotNull(hit);
        Assert.True(hit.FromDisk);

        // The store reads a few chunks ahead of the reader and waits: unread, the body is never complete.
        Assert.False(hit.Body.IsCompleted);
        Assert.Equal(body.AsSpan(0, 1000).ToArray(), await Stores.ReadRange(hit.Body, 0, 1000));
        Assert.False(hit.Body.IsCompleted);
        Assert.True(hit.Body.Length < body.Length, $"{hit.Body.Length} of {body.Length} bytes were read from disk ahead of the reader");

        // The same reader then takes the rest.
        Assert.Equal(body.AsSpan(1000).ToArray(), await Stores.ReadRange(hit.Body, 1000, -1));
        Assert.True(await hit.Body.WaitForCompletionAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));

        // At or under the limit the same object comes back complete.
        var complete = await store.GetAsync("http://a/big", Stores.NoHeaders, completeUpToBytes: body.Length, CancellationToken.None);
        Assert.NotNull(complete);
        Assert.True(complete.Body.IsCompleted);
        Assert.Equal(body, complete.Body.ToArrayForTests());
    }

    public static TheoryData<long, long> Ranges => new()
    {
        { 0, 1 },
        { 0, Chunk },
        { Chunk - 1, 2 }, // across the first chunk boundary
        { Chunk, Chunk }, // exactly the second chunk
        { 3 * Chunk - 7, 2 * Chunk + 14 }, // three chunks, partly
        { 65_535, 2 }, // across the first 64 KiB body segment
        { 7 * Chunk + 5, -1 }, // to the end
        { (25L * 1024 * 1024) - 10, 10 }, // the last bytes
        { (25L * 1024 * 1024) - 1, -1 },
        { 16L * 1024 * 1024, 3 * Chunk }, // deep in the body
    };

    [Theory]
    [MemberData(nameof(Ranges))]
    public async Task A_range_of_a_streamed_hit_is_the_right_bytes_across_chunk_boundaries(long offset, long count)
    {
        // 25 MiB: above the 16 MiB a body holds in one array, so the body is in 64 KiB segments too.
        var body = Stores.Bytes(25 * 1024 * 1024, seed: 52);
        await using var store = Stores.Open(Options(budget: 128L * 1024 * 1024));
        await store.PutAsync("http://a/big", Stores.Response(body), CancellationToken.None);

        var hit = await store.GetAsync("http://a/big", Stores.NoHeaders, completeUpToBytes: 0, CancellationToken.None);
        Assert.NotNull(hit);
        var expected = body.AsSpan((int)offset, count < 0 ? body.Length - (int)offset : (int)count).ToArray();
        Assert.Equal(expected, await Stores.ReadRange(hit.Body, offset, count));
    }

    [Fact]
    public async Task Ranges_of_a_small_streamed_hit_are_the_right_bytes()
    {
        // Under 16 MiB the streamed body is one array; every boundary below is a chunk boundary.
        var body = Stores.Bytes((7 * Chunk) + 9, seed: 53);
        await using var store = Stores.Open(Options());
        await store.PutAsync("http://a/small", Stores.Response(body), CancellationToken.None);

        for (var offset = 0; offset < body.Length; offset += Chunk / 3)
        {
            foreach (var count in new[] { 1, Chunk - 1, Chunk + 1, 2 * Chunk })
            {
                var n = Math.Min(count, body.Length - offset);
                var hit = await store.GetAsync("http://a/small", Stores.NoHeaders, completeUpToBytes: 0, CancellationToken.None);
                Assert.NotNull(hit);
                Assert.Equal(body.AsSpan(offset, n).ToArray(), await Stores.ReadRange(hit.Body, offset, n));
            }
        }
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(Chunk - 1L)]
    [InlineData(Chunk * 17L + 5)]
    [InlineData(Chunk * 40L + 100)]
    public async Task A_range_read_starts_at_the_chunk_that_holds_its_first_byte(long first)
    {
        var body = Stores.Bytes(40 * Chunk + 123, seed: 52);
        await using var store = Stores.Open(Options());
        await store.PutAsync("http://a/ranged", Stores.Response(body), CancellationToken.None);

        var hit = await store.GetAsync("http://a/ranged", Stores.NoHeaders, completeUpToBytes: 0, CancellationToken.None, firstByte: _ => first);
        Assert.NotNull(hit);
        Assert.Equal(first / Chunk * Chunk, hit.Body.BaseOffset);

        var pipe = new System.IO.Pipelines.Pipe();
        var count = body.Length - first;
        var copy = hit.Body.CopyToAsync(pipe.Writer, first, count, CancellationToken.None);
        using var ms = new MemoryStream();
        var read = pipe.Reader.CopyToAsync(ms);
        await copy.WaitAsync(TimeSpan.FromSeconds(30));
        await pipe.Writer.CompleteAsync();
        await read.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(body.AsSpan((int)first).ToArray(), ms.ToArray());

        // Bytes before the chunk were never read: asking for them fails rather than inventing them.
        if (hit.Body.BaseOffset > 0)
        {
            await Assert.ThrowsAsync<IOException>(() => hit.Body.CopyToAsync(new System.IO.Pipelines.Pipe().Writer, 0, 1, CancellationToken.None));
        }
    }
}
