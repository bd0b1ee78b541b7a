using System.Text;
using EdgeCache.Engine;

namespace EdgeCache.Storage.Tests;

/// <summary>
/// Bytes flipped in the log files while the store is closed (a bad sector, a stray write): the
/// record fails its checksum on the next read, is deleted, and is a miss; it never reaches a caller,
/// and storing the object again works.
/// </summary>
public sealed class CorruptionTests : IDisposable
{
    private const int CorruptEvent = 2005;
    private const int Chunk = 64 * 1024;

    private readonly string _dir = Stores.TempDir();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData(1000, 10)] // one chunk
    [InlineData(5 * Chunk + 100, Chunk + 17)] // the second of six chunks
    [InlineData(5 * Chunk + 100, 5 * Chunk + 50)] // the short last chunk
    public async Task A_corrupt_chunk_is_a_miss_is_deleted_and_can_be_stored_again(int length, int markerAt)
    {
        var marker = Encoding.ASCII.GetBytes("chunk-marker-3f9a0c7e5b1d4e26a8");
        var body = Stores.BytesWithMarker(length, seed: 7, markerAt, marker);
        var options = Stores.Small(_dir);
        await using (var store = Stores.Open(options))
        {
            await store.PutAsync("http://a/corrupt", Stores.Response(body), CancellationToken.None);
            await store.PutAsync("http://a/intact", Stores.Response(Stores.Bytes(length, seed: 8)), CancellationToken.None);
        }

        Assert.Equal(1, Stores.CorruptInLog(_dir, marker));

        var log = new ListLogger();
        await using var reopened = Stores.Open(options, log);
        Assert.Equal(DiskOpenedAs.Recovered, reopened.OpenedAs);
        Assert.Null(await reopened.GetAsync("http://a/corrupt", Stores.NoHeaders, long.MaxValue, CancellationToken.None));
        Assert.Equal(1, log.Count(CorruptEvent));

        // Deleted: the second lookup misses without reading the chunk again.
        Assert.Null(await reopened.GetAsync("http://a/corrupt", Stores.NoHeaders, long.MaxValue, CancellationToken.None));
        Assert.Equal(1, log.Count(CorruptEvent));

        // The other object is untouched, and the corrupt one is re-fetched and stored again.
        Assert.Equal(Stores.Bytes(length, seed: 8), await Stores.GetBytes(reopened, "http://a/intact"));
        await reopened.PutAsync("http://a/corrupt", Stores.Response(body), CancellationToken.None);
        Assert.Equal(body, await Stores.GetBytes(reopened, "http://a/corrupt"));
        Assert.True(reopened.Healthy);
        Assert.Equal(0, reopened.Failures);
    }

    [Fact]
    public async Task A_corrupt_chunk_of_a_streamed_hit_cuts_the_transfer_before_its_bytes_and_is_deleted()
    {
        var marker = Encoding.ASCII.GetBytes("stream-marker-91c2e07d4a5b3f68e");
        var length = 12 * Chunk + 5;
        var markerAt = 9 * Chunk + 100;
        var body = Stores.BytesWithMarker(length, seed: 9, markerAt, marker);
        var options = Stores.Small(_dir);
        await using (var store = Stores.Open(options))
        {
            await store.PutAsync("http://a/big", Stores.Response(body), CancellationToken.None);
        }

        Assert.Equal(1, Stores.CorruptInLog(_dir, marker));

        var log = new ListLogger();
        await using var reopened = Stores.Open(options, log);
        var hit = await reopened.GetAsync("http://a/big", Stores.NoHeaders, completeUpToBytes: 0, CancellationToken.None);
        Assert.NotNull(hit); // the metadata is intact: the hit starts streaming

        var pipe = new System.IO.Pipelines.Pipe();
        using var received = new MemoryStream();
        var read = pipe.Reader.CopyToAsync(received);
        await Assert.ThrowsAsync<IOException>(() => hit.Body.CopyToAsync(pipe.Writer, 0, -1, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
        await pipe.Writer.CompleteAsync();
        await read.WaitAsync(TimeSpan.FromSeconds(30));

        // What went out is a true prefix that stops before the corrupt chunk: a truncated transfer, never a wrong byte.
        var prefix = received.ToArray();
        Assert.True(prefix.Length <= 9 * Chunk, $"{prefix.Length} bytes were sent");
        Assert.Equal(body.AsSpan(0, prefix.Length).ToArray(), prefix);
        Assert.Equal(1, log.Count(CorruptEvent));

        // By the time the reader saw the failure, the object was gone.
        Assert.Null(await reopened.GetAsync("http://a/big", Stores.NoHeaders, completeUpToBytes: 0, CancellationToken.None));
        Assert.Equal(1, log.Count(CorruptEvent));

        await reopened.PutAsync("http://a/big", Stores.Response(body), CancellationToken.None);
        Assert.Equal(body, await Stores.GetBytes(reopened, "http://a/big", completeUpTo: 0));
    }

    [Fact]
    public async Task A_corrupt_metadata_record_is_a_miss_is_deleted_and_can_be_stored_again()
    {
        const string Marker = "meta-marker-6b0e2d9c81f47a35";
        var body = Stores.Bytes(3 * Chunk, seed: 11);
        var options = Stores.Small(_dir);
        await using (var store = Stores.Open(options))
        {
            await store.PutAsync("http://a/meta", Stores.Response(body, extra: ("X-Tag", Marker)), CancellationToken.None);
        }

        Assert.Equal(1, Stores.CorruptInLog(_dir, Encoding.UTF8.GetBytes(Marker)));

        var log = new ListLogger();
        await using var reopened = Stores.Open(options, log);
        Assert.Null(await reopened.GetAsync("http://a/meta", Stores.NoHeaders, long.MaxValue, CancellationToken.None));
        Assert.Equal(1, log.Count(CorruptEvent));
        Assert.Null(await reopened.GetAsync("http://a/meta", Stores.NoHeaders, long.MaxValue, CancellationToken.None));
        Assert.Equal(1, log.Count(CorruptEvent));

        await reopened.PutAsync("http://a/meta", Stores.Response(body, extra: ("X-Tag", Marker)), CancellationToken.None);
        var hit = await reopened.GetAsync("http://a/meta", Stores.NoHeaders, long.MaxValue, CancellationToken.None);
        Assert.NotNull(hit);
        Assert.Equal(Marker, hit.GetHeader("X-Tag").ToString());
        Assert.Equal(body, await Stores.GetBytes(reopened, "http://a/meta"));
    }

    [Fact]
    public async Task A_corrupt_url_record_is_a_miss_is_deleted_and_can_be_stored_again()
    {
        // The primary key is stored only in the URL record (record keys are its hash).
        const string Url = "http://a/url-record-marker-0c4f8e2a7d91b356";
        var body = Stores.Bytes(2000, seed: 12);
        var options = Stores.Small(_dir);
        await using (var store = Stores.Open(options))
        {
            await store.PutAsync(Url, Stores.Response(body), CancellationToken.None);
        }

        Assert.Equal(1, Stores.CorruptInLog(_dir, Encoding.UTF8.GetBytes(Url)));

        var log = new ListLogger();
        await using var reopened = Stores.Open(options, log);
        Assert.Null(await reopened.GetAsync(Url, Stores.NoHeaders, long.MaxValue, CancellationToken.None));
        Assert.Equal(1, log.Count(CorruptEvent));
        Assert.Null(await reopened.GetAsync(Url, Stores.NoHeaders, long.MaxValue, CancellationToken.None));
        Assert.Equal(1, log.Count(CorruptEvent));

        await reopened.PutAsync(Url, Stores.Response(body), CancellationToken.None);
        Assert.Equal(body, await Stores.GetBytes(reopened, Url));
    }
}
