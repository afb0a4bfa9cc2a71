// The smallest ESP8266 program: enough for a real xtensa ELF that esptool turns into an image.
volatile int counter;
void call_user_start(void) { for (;;) { counter++; } }
