using System.Buffers;
using System.IO.Pipelines;

namespace EdgeCache.Engine.Tests;

public class CacheBodyTests
{
    private const int Segment = 64 * 1024;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static byte[] Pattern(int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++) bytes[i] = (byte)(i * 31 + (i >> 8));
        return bytes;
    }

    /// <summary>Reads everything the pipe delivers until its writer completes.</summary>
    private static async Task<byte[]> ReadAllAsync(PipeReader reader)
    {
        while (true)
        {
            var result = await reader.ReadAsync();
            if (result.IsCompleted)
            {
                var bytes = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.End);
                await reader.CompleteAsync();
                return bytes;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static async Task<byte[]> CopyAsync(CacheBody body, long offset, long count)
    {
        var pipe = new Pipe();
        var reading = ReadAllAsync(pipe.Reader);
        await body.CopyToAsync(pipe.Writer, offset, count, CancellationToken.None).WaitAsync(Deadline);
        await pipe.Writer.CompleteAsync();
        return await reading.WaitAsync(Deadline);
    }

    [Fact]
    public void Append_then_Complete_holds_all_bytes_in_order()
    {
        var body = new CacheBody();

        body.Append("hello"u8);
        body.Append(" "u8);
        body.Append("world"u8);
        Assert.False(body.IsCompleted);
        Assert.Equal(11, body.Length);
        body.Complete();

        Assert.True(body.IsCompleted);
        Assert.False(body.IsFailed);
        Assert.Equal(11, body.Length);
        Assert.Equal("hello world"u8.ToArray(), body.ToArrayForTests());
    }

    [Fact]
    public void Append_after_Complete_or_Fail_throws()
    {
        var completed = new CacheBody();
        completed.Append([1]);
        completed.Complete();
        var failed = new CacheBody();
        failed.Fail(new TimeoutException());

        Assert.Throws<InvalidOperationException>(() => completed.Append([2]));
        Assert.Throws<InvalidOperationException>(() => failed.Append([2]));
        Assert.Equal(1, completed.Length);
    }

    [Fact]
    public void Empty_body_is_a_single_empty_segment()
    {
        var body = new CacheBody();
        body.Complete();

        Assert.Equal(0, body.Length);
        Assert.True(body.TryGetSingleSegment(out var memory));
        Assert.Equal(0, memory.Length);
        Assert.True(body.AsSequence().IsEmpty);
    }

    [Fact]
    public void AsSequence_before_Complete_throws()
    {
        var body = new CacheBody();
        body.Append([1, 2]);

        Assert.Throws<InvalidOperationException>(() => body.AsSequence());
        Assert.False(body.TryGetSingleSegment(out _));
    }

    [Fact]
    public async Task Read_along_reader_started_before_any_byte_receives_all_bytes()
    {
        var data = Pattern(200_000);
        var body = new CacheBody();
        var pipe = new Pipe();
        var reading = ReadAllAsync(pipe.Reader);

        var copying = body.CopyToAsync(pipe.Writer, 0, -1, CancellationToken.None);
        Assert.False(copying.IsCompleted);
        for (var offset = 0; offset < data.Length; offset += 7_000)
        {
            body.Append(data.AsSpan(offset, Math.Min(7_000, data.Length - offset)));
        }

        Assert.False(copying.IsCompleted);
        body.Complete();
        await copying.WaitAsync(Deadline);
        await pipe.Writer.CompleteAsync();

        Assert.Equal(data, await reading.WaitAsync(Deadline));
    }

    [Fact]
    public async Task Read_along_reader_started_midway_receives_all_bytes()
    {
        var data = Pattern(100_000);
        var body = new CacheBody();
        body.Append(data.AsSpan(0, 30_000));
        var pipe = new Pipe();
        var reading = ReadAllAsync(pipe.Reader);

        var copying = body.CopyToAsync(pipe.Writer, 0, -1, CancellationToken.None);
        body.Append(data.AsSpan(30_000));
        body.Complete();
        await copying.WaitAsync(Deadline);
        await pipe.Writer.CompleteAsync();

        Assert.Equal(data, await reading.WaitAsync(Deadline));
    }

    [Fact]
    public async Task Read_along_range_waits_for_its_bytes_only()
    {
        var data = Pattern(1000);
        var body = new CacheBody();
        var pipe = new Pipe();
        var reading = ReadAllAsync(pipe.Reader);

        var copying = body.CopyToAsync(pipe.Writer, 100, 50, CancellationToken.None);
        body.Append(data.AsSpan(0, 120));
        Assert.False(copying.IsCompleted);
        body.Append(data.AsSpan(120, 100));
        await copying.WaitAsync(Deadline);
        await pipe.Writer.CompleteAsync();

        Assert.False(body.IsCompleted);
        Assert.Equal(data[100..150], await reading.WaitAsync(Deadline));
    }

    [Fact]
    public async Task A_copy_holds_the_bytes_that_end_its_range_until_beforeEnd_completes_and_never_the_others()
    {
        var data = Pattern(3 * Segment);
        var body = new CacheBody();
        body.Append(data);
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        var stored = new TaskCompletionSource();

        // Every byte has arrived, but the copy is not stored yet: the reader gets all but the end.
        var copying = body.CopyToAsync(pipe.Writer, 0, data.Length, CancellationToken.None, stored.Task);
        Assert.True(pipe.Reader.TryRead(out var first));
        var held = first.Buffer.ToArray();
        pipe.Reader.AdvanceTo(first.Buffer.End);
        Assert.InRange(held.Length, 1, data.Length - 1);
        Assert.Equal(data[..held.Length], held);
        Assert.False(copying.IsCompleted);

        stored.SetException(new InvalidOperationException("a failed store is the caller's to report"));
        await copying.WaitAsync(Deadline);
        await pipe.Writer.CompleteAsync();
        Assert.Equal(data[held.Length..], await ReadAllAsync(pipe.Reader).WaitAsync(Deadline));
    }

    [Fact]
    public async Task Fail_makes_a_waiting_reader_throw_IOException_after_the_bytes_it_had()
    {
        var body = new CacheBody();
        var pipe = new Pipe();
        var reading = ReadAllAsync(pipe.Reader);
        var copying = body.CopyToAsync(pipe.Writer, 0, -1, CancellationToken.None);
        body.Append([1, 2, 3]);
        var cause = new TimeoutException("upstream stalled");

        body.Fail(cause);

        var error = await Assert.ThrowsAsync<IOException>(() => copying.WaitAsync(Deadline));
        Assert.Same(cause, error.InnerException);
        Assert.True(body.IsFailed);
        Assert.False(body.IsCompleted);
        await pipe.Writer.CompleteAsync();
        Assert.Equal(new byte[] { 1, 2, 3 }, await reading.WaitAsync(Deadline));
    }

    [Fact]
    public async Task Fail_makes_a_later_reader_throw_IOException()
    {
        var body = new CacheBody();
        body.Append([1, 2, 3]);
        body.Fail(new TimeoutException());

        await Assert.ThrowsAsync<IOException>(() => CopyAsync(body, 0, -1));
        Assert.False(await body.WaitForCompletionAsync(CancellationToken.None).WaitAsync(Deadline));
    }

    [Fact]
    public async Task WaitForCompletion_returns_true_once_complete()
    {
        var body = new CacheBody();
        var waiting = body.WaitForCompletionAsync(CancellationToken.None);
        body.Append([1]);
        Assert.False(waiting.IsCompleted);

        body.Complete();

        Assert.True(await waiting.WaitAsync(Deadline));
    }

    [Fact]
    public async Task Reader_cancelled_while_waiting_throws_OperationCanceled()
    {
        var body = new CacheBody();
        using var cts = new CancellationTokenSource();
        var copying = body.CopyToAsync(new Pipe().Writer, 0, -1, cts.Token);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => copying.WaitAsync(Deadline));
    }

    [Fact]
    public async Task Range_past_the_end_of_a_complete_body_throws_instead_of_sending_short()
    {
        var body = CacheBody.FromBytes(Pattern(100));

        await Assert.ThrowsAsync<IOException>(() => CopyAsync(body, 90, 20));
    }

    [Fact]
    public void Expected_length_uses_one_segment()
    {
        var data = Pattern(200_000);
        var body = new CacheBody(expectedLength: data.Length);
        for (var offset = 0; offset < data.Length; offset += 7_000)
        {
            body.Append(data.AsSpan(offset, Math.Min(7_000, data.Length - offset)));
        }

        body.Complete();

        Assert.True(body.TryGetSingleSegment(out var memory));
        Assert.Equal(data.Length, memory.Length);
        Assert.True(memory.Span.SequenceEqual(data));
        Assert.True(body.AsSequence().IsSingleSegment);
    }

    // The disk tier reads bodies up to this limit straight into one array (FromBytes): the same
    // shape the constructor gives them, so a body read from disk is held as one read from the origin.
    [Theory]
    [InlineData(CacheBody.SingleSegmentLimit, true)]
    [InlineData(CacheBody.SingleSegmentLimit + 1, false)]
    public void Expected_length_up_to_the_single_segment_limit_is_held_in_one_array(int length, bool oneArray)
    {
        var body = new CacheBody(expectedLength: length);
        body.Append(new byte[length]);
        body.Complete();

        Assert.Equal(oneArray, body.TryGetSingleSegment(out _));
        Assert.Equal(length, body.Length);
    }

    [Fact]
    public void Expected_length_larger_than_actual_is_trimmed_to_one_exact_segment()
    {
        var body = new CacheBody(expectedLength: 1000);
        body.Append(Pattern(400));
        body.Complete();

        Assert.True(body.TryGetSingleSegment(out var memory));
        Assert.Equal(400, memory.Length);
        Assert.Equal(Pattern(400), body.ToArrayForTests());
    }

    [Fact]
    public async Task Expected_length_smaller_than_actual_still_keeps_every_byte()
    {
        var data = Pattern(25);
        var body = new CacheBody(expectedLength: 10);
        body.Append(data.AsSpan(0, 3));
        body.Append(data.AsSpan(3));
        body.Complete();

        Assert.False(body.TryGetSingleSegment(out _));
        Assert.Equal(data, body.ToArrayForTests());
        Assert.Equal(data[8..23], await CopyAsync(body, 8, 15));
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(Segment - 1, true)]
    [InlineData(Segment, true)]
    [InlineData(Segment + 1, false)]
    [InlineData(2 * Segment, false)]
    [InlineData(2 * Segment + 1, false)]
    public async Task Sizes_around_the_64_KiB_segment_boundary(int length, bool singleSegment)
    {
        var data = Pattern(length);
        var body = new CacheBody();
        body.Append(data);
        body.Complete();

        Assert.Equal(length, body.Length);
        Assert.Equal(singleSegment, body.TryGetSingleSegment(out _));
        var sequence = body.AsSequence();
        Assert.Equal(length, sequence.Length);
        Assert.Equal(singleSegment, sequence.IsSingleSegment);
        Assert.Equal(data, sequence.ToArray());
        Assert.Equal(data, await CopyAsync(body, 0, -1));
        Assert.Equal(data[(length - 1)..], await CopyAsync(body, length - 1, 1));
    }

    [Theory]
    [InlineData(Segment - 10, 20)]
    [InlineData(Segment, 1)]
    [InlineData(Segment - 1, 2)]
    [InlineData(0, Segment + 1)]
    [InlineData(Segment + 1, Segment)]
    public async Task Ranges_across_the_segment_boundary(int offset, int count)
    {
        var data = Pattern(2 * Segment + 5);
        var body = new CacheBody();
        body.Append(data);
        body.Complete();

        Assert.Equal(data[offset..(offset + count)], await CopyAsync(body, offset, count));
    }

    [Fact]
    public async Task Byte_by_byte_appends_across_the_boundary_are_read_along()
    {
        var data = Pattern(Segment + 3);
        var body = new CacheBody();
        body.Append(data.AsSpan(0, Segment - 3));
        var pipe = new Pipe();
        var reading = ReadAllAsync(pipe.Reader);
        var copying = body.CopyToAsync(pipe.Writer, Segment - 5, -1, CancellationToken.None);

        for (var i = Segment - 3; i < data.Length; i++) body.Append(data.AsSpan(i, 1));
        body.Complete();
        await copying.WaitAsync(Deadline);
        await pipe.Writer.CompleteAsync();

        Assert.Equal(data[(Segment - 5)..], await reading.WaitAsync(Deadline));
    }

    [Fact]
    public void FromBytes_is_complete_and_shares_the_array()
    {
        var bytes = Pattern(1234);

        var body = CacheBody.FromBytes(bytes);

        Assert.True(body.IsCompleted);
        Assert.Equal(1234, body.Length);
        Assert.True(body.TryGetSingleSegment(out var memory));
        Assert.True(memory.Span == bytes.AsSpan(), "FromBytes must not copy");
    }

    [Fact]
    public async Task FromBytes_larger_than_16_MiB_serves_ranges_from_anywhere()
    {
        var bytes = Pattern(17 * 1024 * 1024);
        var body = CacheBody.FromBytes(bytes);

        Assert.Equal(bytes.Length, body.Length);
        Assert.Equal(bytes[(5 * 1024 * 1024)..(5 * 1024 * 1024 + 100)], await CopyAsync(body, 5 * 1024 * 1024, 100));
        Assert.Equal(bytes[^10..], await CopyAsync(body, bytes.Length - 10, -1));
    }

    [Fact]
    public async Task A_transient_body_holds_its_writer_to_the_window_ahead_of_the_reader_and_still_delivers_every_byte()
    {
        var body = new CacheBody();
        body.MakeTransient(window: 2 * Segment);
        var data = Pattern(10 * Segment);

        // With no reader, the writer stops once it is a window ahead.
        var writing = Task.Run(async () =>
        {
            for (var i = 0; i < 10; i++) await body.AppendAsync(data.AsMemory(i * Segment, Segment), CancellationToken.None);
            body.Complete();
        });
        var deadline = DateTime.UtcNow + Deadline;
        while (body.Length < 3 * Segment && DateTime.UtcNow < deadline) await Task.Yield();
        Assert.False(writing.IsCompleted);
        Assert.InRange(body.Length, 2 * Segment, 3 * Segment);

        // A reader lets it go on, and gets the whole body in order.
        var read = await CopyAsync(body, 0, -1);
        await writing.WaitAsync(Deadline);
        Assert.Equal(data, read);
    }
    [Fact]
    public async Task A_rented_body_holds_only_its_length_of_the_array_and_reads_fail_once_returned()
    {
        var array = ArrayPool<byte>.Shared.Rent(100_000);
        Assert.True(array.Length > 100_000 - 1);
        var pattern = Pattern(100_000);
        pattern.CopyTo(array, 0);
        array.AsSpan(100_000).Fill(0xEE); // the pool's slack must never be served
        var body = CacheBody.FromRented(array, 100_000);

        Assert.True(body.IsRented);
        Assert.True(body.IsCompleted);
        Assert.Equal(100_000, body.Length);
        Assert.Equal(pattern, body.AsSequence().ToArray());
        Assert.True(body.TryGetSingleSegment(out var whole));
        Assert.Equal(pattern, whole.ToArray());

        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        await body.CopyToAsync(pipe.Writer, 0, -1, CancellationToken.None).WaitAsync(Deadline);
        await pipe.Writer.CompleteAsync();
        var copied = await pipe.Reader.ReadAtLeastAsync(200_000).AsTask().WaitAsync(Deadline);
        Assert.Equal(pattern, copied.Buffer.ToArray());

        body.ReturnRented();
        body.ReturnRented(); // once only
        Assert.True(body.IsFailed);
        await Assert.ThrowsAsync<IOException>(() => body.CopyToAsync(new Pipe().Writer, 0, -1, CancellationToken.None));
    }

    [Fact]
    public void A_body_from_its_own_array_is_not_rented_and_returning_it_does_nothing()
    {
        var body = CacheBody.FromBytes(Pattern(10));
        body.ReturnRented();
        Assert.False(body.IsRented);
        Assert.False(body.IsFailed);
        Assert.Equal(Pattern(10), body.ToArrayForTests());
    }
}
