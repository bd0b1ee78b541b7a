using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace EdgeCache.Engine;

/// <summary>One transformation asked of an image worker: the original's bytes and what to make of them.
/// <paramref name="Width"/> and <paramref name="Height"/> are device pixels, 0 when not bounded; <paramref name="Quality"/> is the
/// encoder's own (the request's quality scaled for the format, <see cref="ImagePolicy.EncoderQuality"/>).</summary>
public sealed record ImageJob(int Width, int Height, ImageFit Fit, int Quality, string Format, bool KeepAnimation, long MaxPixels, ReadOnlySequence<byte> Input);

/// <summary>A worker's answer: the variant's bytes and size, or why none was made (<see cref="Reason"/>:
/// <c>pixel-limit</c>, <c>decode</c>, <c>animated</c>, <c>encode</c>...).</summary>
public sealed record ImageJobResult(bool Ok, string? Reason, int Width, int Height, byte[] Output);

/// <summary>
/// The frames an image worker (a child process of the shield, <c>EdgeCache.ImageWorker</c>) reads on
/// standard input and writes on standard output, one job at a time: little-endian integers, lengths
/// before bytes. A worker that dies mid-job, or answers with anything else, costs that job only.
/// </summary>
public static class ImageWorkerProtocol
{
    /// <summary>Largest frame read from a worker (a variant is never larger than this).</summary>
    public const int MaxOutputBytes = 64 * 1024 * 1024;

    private const int Magic = 0x45434931; // "ECI1"
    private const int ReadyMagic = 0x45434952; // "ECIR"

    public static async Task WriteJobAsync(Stream output, ImageJob job, CancellationToken cancellationToken)
    {
        var head = new byte[4 + 4 + 4 + 1 + 4 + 1 + 1 + 8 + 4];
        var s = head.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(s, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], job.Width);
        BinaryPrimitives.WriteInt32LittleEndian(s[8..], job.Height);
        s[12] = (byte)job.Fit;
        BinaryPrimitives.WriteInt32LittleEndian(s[13..], job.Quality);
        s[17] = (byte)Array.IndexOf(FormatNames, job.Format);
        s[18] = job.KeepAnimation ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt64LittleEndian(s[19..], job.MaxPixels);
        BinaryPrimitives.WriteInt32LittleEndian(s[27..], checked((int)job.Input.Length));
        await output.WriteAsync(head, cancellationToken).ConfigureAwait(false);
        foreach (var segment in job.Input) await output.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A new worker writes this once, after it has loaded libvips and run a first small transformation,
    /// before it reads its first job: the supervisor starts a job's time limit only after it, so a worker's own
    /// start-up never counts against a job.</summary>
    public static void WriteReady(Stream output)
    {
        Span<byte> ready = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(ready, ReadyMagic);
        output.Write(ready);
        output.Flush();
    }

    /// <summary>True when <paramref name="input"/> starts with a worker's ready frame; false when it ends first or
    /// carries anything else.</summary>
    public static async Task<bool> ReadReadyAsync(Stream input, CancellationToken cancellationToken)
    {
        var ready = new byte[4];
        try
        {
            await input.ReadExactlyAsync(ready, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            return false;
        }

        return BinaryPrimitives.ReadInt32LittleEndian(ready) == ReadyMagic;
    }

    /// <summary>The next job on <paramref name="input"/>, or null at its end.</summary>
    public static ImageJob? ReadJob(Stream input, int maxInputBytes)
    {
        var head = new byte[31];
        if (!ReadExactly(input, head)) return null;
        var s = head.AsSpan();
        if (BinaryPrimitives.ReadInt32LittleEndian(s) != Magic) throw new InvalidDataException("not an image job frame");
        var length = BinaryPrimitives.ReadInt32LittleEndian(s[27..]);
        if (length < 0 || length > maxInputBytes) throw new InvalidDataException("image job too large");
        var body = new byte[length];
        if (!ReadExactly(input, body)) return null;
        var format = s[17] < FormatNames.Length ? FormatNames[s[17]] : throw new InvalidDataException("unknown format");
        return new ImageJob(
            BinaryPrimitives.ReadInt32LittleEndian(s[4..]),
            BinaryPrimitives.ReadInt32LittleEndian(s[8..]),
            (ImageFit)s[12],
            BinaryPrimitives.ReadInt32LittleEndian(s[13..]),
            format,
            s[18] == 1,
            BinaryPrimitives.ReadInt64LittleEndian(s[19..]),
            new ReadOnlySequence<byte>(body));
    }

    public static void WriteResult(Stream output, ImageJobResult result)
    {
        var reason = Encoding.UTF8.GetBytes(result.Reason ?? "");
        var head = new byte[4 + 1 + 4 + 4 + 4 + 4];
        var s = head.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(s, Magic);
        s[4] = result.Ok ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteInt32LittleEndian(s[5..], result.Width);
        BinaryPrimitives.WriteInt32LittleEndian(s[9..], result.Height);
        BinaryPrimitives.WriteInt32LittleEndian(s[13..], reason.Length);
        BinaryPrimitives.WriteInt32LittleEndian(s[17..], result.Output.Length);
        output.Write(head);
        output.Write(reason);
        output.Write(result.Output);
        output.Flush();
    }

    /// <summary>The worker's answer, or null when its output ended first (it died).</summary>
    public static async Task<ImageJobResult?> ReadResultAsync(Stream input, CancellationToken cancellationToken)
    {
        var head = new byte[21];
        if (!await ReadExactlyAsync(input, head, cancellationToken).ConfigureAwait(false)) return null;
        if (BinaryPrimitives.ReadInt32LittleEndian(head) != Magic) throw new InvalidDataException("not an image result frame");
        var reasonLength = BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(13));
        var outputLength = BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(17));
        if (reasonLength is < 0 or > 1024 || outputLength < 0 || outputLength > MaxOutputBytes) throw new InvalidDataException("image result frame out of bounds");
        var reason = new byte[reasonLength];
        var output = new byte[outputLength];
        if (!await ReadExactlyAsync(input, reason, cancellationToken).ConfigureAwait(false) || !await ReadExactlyAsync(input, output, cancellationToken).ConfigureAwait(false)) return null;
        return new ImageJobResult(head[4] == 1, reasonLength == 0 ? null : Encoding.UTF8.GetString(reason), BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(5)), BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(9)), output);
    }

    private static readonly string[] FormatNames = ["jpeg", "png", "gif", "webp", "avif"];

    private static bool ReadExactly(Stream input, byte[] buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = input.Read(buffer, read, buffer.Length - read);
            if (n == 0) return false;
            read += n;
        }

        return true;
    }

    private static async Task<bool> ReadExactlyAsync(Stream input, byte[] buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await input.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0) return false;
            read += n;
        }

        return true;
    }
}
