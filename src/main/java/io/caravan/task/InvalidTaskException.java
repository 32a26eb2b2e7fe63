package io.caravan.task;

/** A record or request that is not a task. {@code taskId} is the id found in it, if any; {@code tooLarge} maps to 413. */
public class InvalidTaskException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String taskId;
    private final boolean tooLarge;

    public InvalidTaskException(String message, String taskId, boolean tooLarge) {
        super(message, null, false, false);
        this.taskId = taskId;
        this.tooLarge = tooLarge;
    }

    public InvalidTaskException(String message, String taskId) {
        this(message, taskId, false);
    }

    public String taskId() {
        return taskId;
    }

    public boolean tooLarge() {
        return tooLarge;
    }
}
