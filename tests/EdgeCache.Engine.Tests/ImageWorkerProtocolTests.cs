using EdgeCache.Engine;

namespace EdgeCache.Engine.Tests;

public class ImageWorkerProtocolTests
{
    [Fact]
    public async Task A_ready_frame_is_read_as_ready_and_nothing_else_is()
    {
        using var written = new MemoryStream();
        ImageWorkerProtocol.WriteReady(written);
        written.Position = 0;
        Assert.True(await ImageWorkerProtocol.ReadReadyAsync(written, CancellationToken.None));

        // A worker that exits at once, says too little, or writes something else is not ready.
        Assert.False(await ImageWorkerProtocol.ReadReadyAsync(new MemoryStream(), CancellationToken.None));
        Assert.False(await ImageWorkerProtocol.ReadReadyAsync(new MemoryStream([0x52, 0x49]), CancellationToken.None));
        Assert.False(await ImageWorkerProtocol.ReadReadyAsync(new MemoryStream("ECI1"u8.ToArray()), CancellationToken.None));
    }
}
